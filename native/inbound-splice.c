/* The inbound thread with splice, for the experiment (the design: pump.h). */
#include "pump.h"

/*
 * Waits for the connection to be readable, sending acks that fall due: 1, WOKEN (attach or
 * detach: the connection changed), -1. A wake that changed nothing (a stale kick) is ignored, so
 * a frame is never abandoned halfway on a connection still in use.
 */
int in_wait_conn(inbound_t *in) {
  uint64_t gen = in->gen;
  for (;;) {
    int64_t due = 0;
    for (int i = 0; i < 3; i++) {
      sink_t *s = &in->s[i];
      if (s->ack_due && (due == 0 || s->ack_due < due)) due = s->ack_due;
    }
    struct pollfd pf[3] = {{in->conn, POLLIN, 0}, {in->wake, POLLIN, 0}, {-1, POLLOUT, 0}};
    if (in->reply && wire_pending(in->reply)) {
      wire_flush_nb(in->reply);
      if (wire_pending(in->reply)) pf[2].fd = in->reply->fd;
    }
    int64_t wait = due ? due - now_ms() : -1;
    pthread_mutex_unlock(&in->mu);
    int r = poll(pf, 3, due ? (wait > 0 ? (int)wait : 0) : -1);
    pthread_mutex_lock(&in->mu);
    if (r < 0 && errno != EINTR) return -1;
    for (int i = 0; i < 3; i++) {
      sink_t *s = &in->s[i];
      if (s->ack_due && now_ms() >= s->ack_due) send_ack(in, i);
    }
    if (r > 0 && pf[1].revents) {
      drain(in->wake);
      if (in->gen != gen) return WOKEN;
    }
    if (r > 0 && pf[0].revents) return 1;
  }
}

/* Reads exactly n bytes of the connection: 0, WOKEN, or -1 (closed, error). */
int in_read_exact(inbound_t *in, uint8_t *b, uint32_t n) {
  for (uint32_t got = 0; got < n;) {
    ssize_t r = read(in->conn, b + got, n - got);
    if (r > 0) got += (uint32_t)r;
    else if (r == 0) return -1;
    else if (errno == EAGAIN) {
      int k = in_wait_conn(in);
      if (k != 1) return k;
    } else if (errno != EINTR) return -1;
  }
  return 0;
}

/*
 * Inbound without copies (the connection and each native sink are pipes): read(2) each frame's
 * header, splice(2) a data payload straight to its sink; every other frame goes to JavaScript.
 */
void *in_splice_main(void *arg) {
  inbound_t *in = arg;
  uint8_t b[MAX_FRAME_LENGTH];
  pthread_mutex_lock(&in->mu);
  while (!in->closing) {
    in_close_dead(in);
    if (in->conn < 0) {
      pthread_cond_wait(&in->cv, &in->mu);
      continue;
    }
    uint64_t gen = in->gen;
    int r = in_read_exact(in, b, 4);
    if (r == 0) {
      uint32_t len = get_u32(b);
      if (len == 0 || len > MAX_FRAME_LENGTH) {
        in_garbled(in, "malformed shim frame: length");
        r = -1;
      } else {
        r = in_read_exact(in, b, len > DATA_HEAD ? DATA_HEAD : len);
        if (r == 0 && b[0] == T_DATA && len > DATA_HEAD && b[1] <= 2 && in->s[b[1]].fd >= 0) {
          sink_t *s = &in->s[b[1]];
          uint64_t off = ((uint64_t)get_u32(b + 2) << 32) | get_u32(b + 6);
          uint64_t left = len - DATA_HEAD;
          if (off > s->received) {
            in_garbled(in, "data after a gap: bytes were lost");
            r = -1;
          }
          uint64_t dup = r == 0 && s->received > off ? s->received - off : 0;
          if (dup > left) dup = left;
          int to_null = 1;
          while (r == 0 && left > 0) {
            if (dup == 0 && to_null) {
              to_null = 0;
              s->received = off + (len - DATA_HEAD);
            }
            int out = dup > 0 ? in->devnull : s->fd;
            uint64_t want = dup > 0 ? dup : left;
            pthread_mutex_unlock(&in->mu);
            ssize_t m = splice(in->conn, NULL, out, NULL, want, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
            int err = errno;
            pthread_mutex_lock(&in->mu);
            if (m > 0) {
              left -= (uint64_t)m;
              if (dup > 0) dup -= (uint64_t)m;
              else {
                s->delivered += (uint64_t)m;
                if (s->delivered - s->last_ack >= in->ack_every) send_ack(in, (int)(s - in->s));
                else if (s->ack_due == 0) s->ack_due = now_ms() + in->ack_delay_ms;
              }
            } else if (m == 0) {
              r = -1;
            } else if (err == EAGAIN) {
              /* Either end: wait for the sink to take more, then for the connection. */
              pthread_mutex_unlock(&in->mu);
              int k = out == s->fd ? wait1(out, POLLOUT, in->wake) : 1;
              pthread_mutex_lock(&in->mu);
              if (k == WOKEN && in->gen != gen) r = WOKEN;
              else if (k == WOKEN) continue;
              else if (k < 0) {
                s->dead = 1;
                r = -1;
              } else {
                struct pollfd pc = {in->conn, POLLIN, 0};
                if (poll(&pc, 1, 0) == 0) r = in_wait_conn(in) == 1 ? 0 : -1;
              }
            } else if (err != EINTR) {
              r = -1;
            }
          }
        } else if (r == 0) {
          if (len > DATA_HEAD) r = in_read_exact(in, b + DATA_HEAD, len - DATA_HEAD);
          if (r == 0) {
            sink_t *s = b[0] == T_EOF && len == 10 && b[1] <= 2 ? &in->s[b[1]] : NULL;
            if (s && s->fd >= 0) {
              s->has_eof = 1;
              s->eof_at = ((uint64_t)get_u32(b + 2) << 32) | get_u32(b + 6);
              maybe_end(in, (int)(s - in->s));
            } else {
              post_at(in->tsfn, in->gen, "frame", 0, 0, b, len, NULL);
            }
          }
        }
      }
    }
    if (r == WOKEN || in->gen != gen) continue;
    if (r < 0) {
      in_drop_conn(in);
      post_at(in->tsfn, in->gen, "closed", (double)(in->head - in->attach_head), 0, NULL, 0, NULL);
      in->gen++;
    }
  }
  pthread_mutex_unlock(&in->mu);
  return NULL;
}
