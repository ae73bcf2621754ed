/* The inbound thread, with copies (the design: pump.h). */
#include "pump.h"

/* ---------- inbound ---------- */




static uint64_t in_tail(inbound_t *in) {
  uint64_t t = in->head;
  for (int i = 0; i < 3; i++) {
    sink_t *s = &in->s[i];
    if (s->qlen > 0 && s->q[s->qhead].roff < t) t = s->q[s->qhead].roff;
  }
  return t;
}

/* Queues a piece for a sink; one that continues the last in memory too (no wrap) extends it. */
static void q_push(sink_t *s, uint64_t roff, uint32_t len, int at_mem_start) {
  if (s->qlen > 0 && !at_mem_start) {
    piece_t *last = &s->q[(s->qhead + s->qlen - 1) % s->qcap];
    if (last->roff + last->len == roff) {
      last->len += len;
      return;
    }
  }
  if (s->qlen == s->qcap) {
    size_t ncap = s->qcap ? s->qcap * 2 : 64;
    piece_t *nq = malloc(ncap * sizeof *nq);
    for (size_t i = 0; i < s->qlen; i++) nq[i] = s->q[(s->qhead + i) % s->qcap];
    free(s->q);
    s->q = nq;
    s->qcap = ncap;
    s->qhead = 0;
  }
  s->q[(s->qhead + s->qlen) % s->qcap] = (piece_t){roff, len};
  s->qlen++;
}

int64_t now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

void send_ack(inbound_t *in, int stream) {
  sink_t *s = &in->s[stream];
  s->last_ack = s->delivered;
  s->ack_due = 0;
  if (!in->reply) return;
  uint8_t h[DATA_HEADER];
  put_head(h, T_ACK, (uint8_t)stream, s->delivered, 0);
  wire_send(in->reply, h, DATA_HEADER);
}

/* A native sink reached its eof: end it, acknowledge, tell JavaScript. */
void maybe_end(inbound_t *in, int i) {
  sink_t *s = &in->s[i];
  if (s->ended || !s->has_eof || s->delivered < s->eof_at || s->qlen > 0) return;
  s->ended = 1;
  if (!s->keep_open) close(s->fd);
  send_ack(in, i);
  post_at(in->tsfn, in->gen, "eof", i, (double)s->eof_at, NULL, 0, NULL);
}

/* Writes what each native sink has pending, as far as it takes it now. */
static void flush_sinks(inbound_t *in) {
  for (int i = 0; i < 3; i++) {
    sink_t *s = &in->s[i];
    while (s->qlen > 0) {
      struct iovec v[64];
      int n = 0;
      for (size_t k = 0; k < s->qlen && n < 64; k++, n++) {
        piece_t *p = &s->q[(s->qhead + k) % s->qcap];
        v[n] = (struct iovec){in->mem + (p->roff - in->base) % in->cap, p->len};
      }
      ssize_t w;
      if (s->dead) {
        w = 0;
        for (int k = 0; k < n; k++) w += v[k].iov_len;
      } else {
        w = writev(s->fd, v, n);
        if (w < 0) {
          if (errno == EINTR) continue;
          if (errno == EAGAIN) break;
          s->dead = 1; /* EPIPE: its reader is gone; the rest counts delivered, as in JS */
          continue;
        }
      }
      s->delivered += (uint64_t)w;
      while (w > 0) {
        piece_t *p = &s->q[s->qhead];
        if ((uint64_t)w >= p->len) {
          w -= p->len;
          s->qhead = (s->qhead + 1) % s->qcap;
          s->qlen--;
        } else {
          p->roff += w;
          p->len -= w;
          w = 0;
        }
      }
    }
    if (s->fd >= 0 && s->delivered - s->last_ack >= in->ack_every) send_ack(in, i);
    if (s->fd >= 0 && s->delivered > s->last_ack && s->ack_due == 0) {
      s->ack_due = now_ms() + in->ack_delay_ms;
    }
    if (s->fd >= 0) maybe_end(in, i);
  }
}

/* Garbage on the connection or a protocol violation: JavaScript gets the message. */
void in_garbled(inbound_t *in, const char *msg) { post_at(in->tsfn, in->gen, "garbled", 0, 0, NULL, 0, msg); }

static int is_handshake(uint8_t t) { return t >= 1 && t <= 3; }

/* Acts on a whole small frame's body, or a data frame's head. 0, or -1 on garbage. */
static int in_body(inbound_t *in, const uint8_t *b, uint32_t n) {
  uint8_t type = b[0];
  if (in->st == 2 && type == T_DATA && n == DATA_HEAD && in->length > DATA_HEAD && !in->first) {
    uint8_t stream = b[1];
    uint32_t high = get_u32(b + 2);
    if (stream > 2) return in_garbled(in, "malformed shim frame: data: stream id"), -1;
    if (high >= 0x200000) return in_garbled(in, "malformed shim frame: data: offset"), -1;
    in->dstream = stream;
    in->doffset = ((uint64_t)high << 32) | get_u32(b + 6);
    in->remaining = in->length - DATA_HEAD;
    if (in->s[stream].fd < 0) {
      /* Not a native sink: gather the whole frame for JavaScript. */
      in->need = in->length;
      in->st = 4;
      return 0;
    }
    in->st = 3;
    return 0;
  }
  if (is_handshake(type) != in->first) {
    return in_garbled(in, "malformed shim frame: handshake order"), -1;
  }
  in->first = 0;
  in->st = 1;
  in->need = 4;
  sink_t *s = type == T_EOF && n >= 2 && b[1] <= 2 ? &in->s[b[1]] : NULL;
  if (s && s->fd >= 0 && n == 10) {
    uint32_t high = get_u32(b + 2);
    uint64_t off = ((uint64_t)high << 32) | get_u32(b + 6);
    if (high >= 0x200000 || off != s->received) {
      return in_garbled(in, "eof at an offset other than the bytes received"), -1;
    }
    s->has_eof = 1;
    s->eof_at = off;
    flush_sinks(in);
    return 0;
  }
  post_at(in->tsfn, in->gen, "frame", 0, 0, b, n, NULL);
  return 0;
}

/* A payload piece of the current data frame for a native sink, at ring offset roff. */
static int in_payload(inbound_t *in, uint64_t roff, const uint8_t *p, uint32_t n) {
  (void)p;
  sink_t *s = &in->s[in->dstream];
  uint64_t off = in->doffset, end = off + n;
  in->doffset += n;
  in->remaining -= n;
  if (off > s->received) return in_garbled(in, "data after a gap: bytes were lost"), -1;
  if (end <= s->received) return 0;
  if (s->has_eof) return in_garbled(in, "data after the stream ended"), -1;
  uint64_t skip = s->received - off;
  s->received = end;
  q_push(s, roff + skip, (uint32_t)(n - skip), (roff + skip - in->base) % in->cap == 0);
  return 0;
}

/* Decodes n bytes read at ring offset roff. 0, or -1 on garbage (the connection is done). */
static int in_consume(inbound_t *in, uint64_t roff, const uint8_t *p, uint32_t n) {
  if (in->sniffed < sizeof in->sniff) {
    uint32_t k = n < sizeof in->sniff - in->sniffed ? n : sizeof in->sniff - in->sniffed;
    memcpy(in->sniff + in->sniffed, p, k);
    in->sniffed += k;
  }
  uint32_t pos = 0;
  while (pos < n) {
    if (in->st == 3) {
      uint32_t k = n - pos < in->remaining ? n - pos : (uint32_t)in->remaining;
      if (in_payload(in, roff + pos, p + pos, k) < 0) return -1;
      pos += k;
      if (in->remaining == 0) {
        in->st = 1;
        in->need = 4;
      }
      continue;
    }
    if (in->st == 0) {
      uint32_t k = in->carried < 8 ? 8 - in->carried : 0;
      if (k > n - pos) k = n - pos;
      if (k && memcmp(p + pos, MAGIC + in->carried, k) != 0) {
        post_at(in->tsfn, in->gen, "garbled", 1, 0, in->sniff, in->sniffed, NULL);
        return -1;
      }
    }
    uint32_t k = in->need - in->carried;
    if (k > n - pos) k = n - pos;
    memcpy(in->carry + in->carried, p + pos, k);
    in->carried += k;
    pos += k;
    if (in->carried < in->need) break;
    in->carried = 0;
    const uint8_t *b = in->carry;
    if (in->st == 0) {
      if (((b[8] << 8) | b[9]) != PROTOCOL_VERSION) {
        post_at(in->tsfn, in->gen, "garbled", 2, (b[8] << 8) | b[9], NULL, 0, NULL);
        return -1;
      }
      in->st = 1;
      in->need = 4;
    } else if (in->st == 1) {
      uint32_t len = get_u32(b);
      if (len == 0 || len > MAX_FRAME_LENGTH) {
        return in_garbled(in, "malformed shim frame: length"), -1;
      }
      if (!in->first && memcmp(b, MAGIC, 4) == 0) {
        return in_garbled(in, "a handshake frame after the first frame"), -1;
      }
      in->length = len;
      in->st = 2;
      /* A data frame's head first (its type byte decides); else the whole body. */
      in->need = len > DATA_HEAD ? DATA_HEAD : len;
    } else if (in->st == 2) {
      if (in->need == DATA_HEAD && b[0] == T_DATA && in->length > DATA_HEAD) {
        if (in_body(in, b, DATA_HEAD) < 0) return -1;
        if (in->st == 4) {
          in->carried = DATA_HEAD; /* keep the head; gather the rest of the frame */
        }
      } else if (in->need < in->length) {
        in->carried = in->need; /* not data: gather the whole body */
        in->need = in->length;
      } else {
        if (in_body(in, b, in->length) < 0) return -1;
      }
    } else if (in->st == 4) {
      post_at(in->tsfn, in->gen, "frame", 0, 0, b, in->length, NULL);
      in->st = 1;
      in->need = 4;
    }
  }
  return 0;
}

static int in_pending(inbound_t *in) {
  for (int i = 0; i < 3; i++) {
    if (in->s[i].qlen > 0 && !in->s[i].dead) return 1;
  }
  return 0;
}

/*
 * Moves the current payload from the connection to its sink with splice(2) when it may (mu held,
 * released around the call): the sink is native, alive and has nothing queued, and the payload's
 * next byte is the next new one (a resend's duplicate part takes the copy path, which drops it).
 * Returns 1 when bytes moved or the connection changed meanwhile (start the turn again), -1 when
 * the connection ended, 2 when it is empty but the sink has room (wait for it, then splice), 0 to
 * take the copy path this turn (a sink still full after SINK_WAIT_MS, an fd splice refuses).
 */
#define SINK_WAIT_MS 2

static int in_try_splice(inbound_t *in) {
  if (in->conn < 0 || in->st != 3 || !in->splice_ok || in->remaining == 0) return 0;
  sink_t *s = &in->s[in->dstream];
  if (s->fd < 0 || s->dead || s->qlen > 0 || s->has_eof || in->doffset != s->received) return 0;
  size_t want = in->remaining < READ_MAX ? (size_t)in->remaining : READ_MAX;
  int conn = in->conn, fd = s->fd;
  uint64_t gen = in->gen;
  pthread_mutex_unlock(&in->mu);
  ssize_t r = splice(conn, NULL, fd, NULL, want, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
  int err = errno, sink_full = 0, room_again = 0;
  if (r < 0 && err == EAGAIN) {
    struct pollfd p = {fd, POLLOUT, 0};
    sink_full = poll(&p, 1, 0) == 0;
    if (sink_full) {
      /* A sink that drains soon keeps the splice going; one that does not gets the copy path,
       * which goes on reading the connection (the acks behind this payload may be what it waits
       * for). An attach or detach (the wake) ends the wait. */
      struct pollfd q[2] = {{fd, POLLOUT, 0}, {in->wake, POLLIN, 0}};
      room_again = poll(q, 2, SINK_WAIT_MS) > 0 && q[0].revents && !q[1].revents;
    }
  }
  pthread_mutex_lock(&in->mu);
  if (r > 0) {
    /* The bytes are the stream's next ones whatever happened meanwhile: count them. */
    s->received += (uint64_t)r;
    s->delivered += (uint64_t)r;
    if (in->gen != gen) return 1;
    in->doffset += (uint64_t)r;
    in->remaining -= (uint64_t)r;
    if (in->remaining == 0) {
      in->st = 1;
      in->need = 4;
    }
    in->splicing = 1;
    return 1;
  }
  if (in->gen != gen || (r < 0 && err == EINTR) || room_again) return 1;
  if (r == 0) {
    in_drop_conn(in);
    post_at(in->tsfn, in->gen, "closed", (double)(in->head - in->attach_head), 0, NULL, 0, NULL);
    in->gen++;
    return -1;
  }
  in->splicing = 0;
  if (err == EAGAIN) return sink_full ? 0 : 2;
  if (err == EPIPE) s->dead = 1; /* its reader is gone: the copy path counts the rest delivered */
  else in->splice_ok = 0;        /* EINVAL and the like: not between these fds */
  return 0;
}

void *in_main(void *arg) {
  inbound_t *in = arg;
  pthread_mutex_lock(&in->mu);
  while (!in->closing) {
    in_close_dead(in);
    flush_sinks(in);
    /* Detached (or garbled): what was accepted before is still delivered. */
    if (in->conn < 0 && !in_pending(in)) {
      pthread_cond_wait(&in->cv, &in->mu);
      continue;
    }
    int spliced = in_try_splice(in);
    if (spliced == 1 || spliced == -1) continue;
    uint64_t tail = in_tail(in);
    if (tail == in->head) in->base = in->head; /* empty: start again at mem[0] */
    uint64_t pos = (in->head - in->base) % in->cap;
    uint64_t room = in->cap - (in->head - tail);
    if (room > in->cap - pos) room = in->cap - pos;
    if (room > READ_MAX) room = READ_MAX;
    if (in->splicing && (in->st == 1 || in->st == 2)) {
      /* The next frame's length and data head, no more: its payload may be spliced too. */
      uint64_t head = in->st == 1 ? 4 - in->carried + DATA_HEAD : in->need - in->carried;
      if (room > head) room = head;
    }
    int64_t due = 0;
    struct pollfd pf[6];
    int conn_at = -1;
    int np = 0;
    pf[np++] = (struct pollfd){in->wake, POLLIN, 0};
    if (in->conn >= 0 && (room >= 4096 || (room > 0 && tail == in->head))) {
      conn_at = np;
      pf[np++] = (struct pollfd){in->conn, POLLIN, 0};
    }
    if (in->reply && wire_pending(in->reply)) {
      wire_flush_nb(in->reply);
      if (wire_pending(in->reply)) pf[np++] = (struct pollfd){in->reply->fd, POLLOUT, 0};
    }
    for (int i = 0; i < 3; i++) {
      sink_t *s = &in->s[i];
      if (s->fd >= 0 && s->qlen > 0 && !s->dead) pf[np++] = (struct pollfd){s->fd, POLLOUT, 0};
      if (s->ack_due && (due == 0 || s->ack_due < due)) due = s->ack_due;
    }
    int conn = in->conn;
    uint64_t gen = in->gen;
    pthread_mutex_unlock(&in->mu);
    int64_t wait = due ? due - now_ms() : -1;
    int r = poll(pf, np, due ? (wait > 0 ? (int)wait : 0) : -1);
    ssize_t got = 0;
    int readable = 0;
    if (conn_at >= 0 && pf[conn_at].revents) readable = 1;
    if (r > 0 && pf[0].revents) {
      drain(in->wake);
      readable = 0;
    } else if (readable && spliced != 2) {
      got = read(conn, in->mem + pos, room);
      if (got < 0 && (errno == EAGAIN || errno == EINTR)) readable = 0;
    }
    pthread_mutex_lock(&in->mu);
    if (due && now_ms() >= due) {
      for (int i = 0; i < 3; i++) {
        sink_t *s = &in->s[i];
        if (s->ack_due && now_ms() >= s->ack_due) send_ack(in, i);
      }
    }
    if (in->gen != gen) continue;
    if (!readable || spliced == 2) continue; /* 2: the connection has data: splice it */
    if (got <= 0) {
      in_drop_conn(in);
      post_at(in->tsfn, in->gen, "closed", (double)(in->head - in->attach_head), 0, NULL, 0, NULL);
      in->gen++;
      continue;
    }
    uint64_t roff = in->head;
    in->head += (uint64_t)got;
    if (in_consume(in, roff, in->mem + pos, (uint32_t)got) < 0) {
      in_drop_conn(in);
      in->gen++;
    }
  }
  pthread_mutex_unlock(&in->mu);
  return NULL;
}
