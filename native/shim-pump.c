/*
 * A prototype of the shim's byte path below JavaScript (N-API, Linux), measured by
 * bench/experiments/shim-native.ts and not used by the product: one native thread per direction
 * moves a stream's bytes in the shim's frame format (src/shim/frames.ts), so no JavaScript runs
 * per chunk. JavaScript keeps the protocol: handshakes, the acks it applies, exit status, pings,
 * signals, and when to attach a connection.
 *
 *   wire      the write side of one connection (a pipe or socket fd). Data batches are written
 *             whole under its mutex; control frames (acks, JavaScript's wireWrite) are queued and
 *             written between batches, so no reader ever blocks on a wire.
 *   outbound  one thread: read(2) of the source fd into a replay ring of `capacity` bytes
 *             (offset o at mem[o % capacity]), then one writev(2) of [header, payload]... per
 *             read to the attached wire. Bytes stay until outAck() passes them; outAttach(wire,
 *             from) resends from `from`, then the eof frame once the source has ended.
 *   inbound   one thread: read(2) of the attached connection into a ring; a data frame of a
 *             stream with a native sink is written (non-blocking writev, the rest kept in the
 *             ring) to the sink, duplicates dropped and gaps refused as ReceiveCounter does; acks
 *             go out every `ackEvery` delivered bytes and within `ackDelayMs` of a delivery.
 *             Every other frame goes to JavaScript as its body.
 *   splice    (an option of both, for the experiment) splice(2)/tee(2) instead of copies; the
 *             replay copy lives in a pipe (at most fs.pipe-max-size), there is no resend, and a
 *             sink that stops reading stalls the connection.
 *
 * Every fd given is set O_NONBLOCK (as libuv does) and waited on with poll(2) next to an eventfd,
 * so attach and detach interrupt a blocked read or write (a stale kick never cuts a frame).
 * Events reach JavaScript through one threadsafe function per object, a few per MiB (acks),
 * never per chunk; quiesce() stops them at process exit.
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <node_api.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define MAX_PAYLOAD 65536
#define MAX_FRAME_LENGTH (1 + 1 + 8 + MAX_PAYLOAD)
#define DATA_HEADER 14
#define DATA_HEAD 10
#define T_DATA 4
#define T_ACK 5
#define T_EOF 6
#define READ_MAX (1 << 20)
#define IOV_FRAMES 32
#define WOKEN (-2)
#define PREAMBLE 10
static const uint8_t MAGIC[8] = {0x89, 0x62, 0x73, 0x68, 0x0d, 0x0a, 0x1a, 0x0a};
#define PROTOCOL_VERSION 1

/* ---------- fds ---------- */

static void set_nonblock(int fd) {
  int fl = fcntl(fd, F_GETFL);
  if (fl >= 0 && !(fl & O_NONBLOCK)) fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void drain(int efd) {
  uint64_t v;
  while (read(efd, &v, sizeof v) > 0) {
  }
}

static void kick(int efd) {
  uint64_t one = 1;
  ssize_t r = write(efd, &one, sizeof one);
  (void)r;
}

/*
 * Waits until fd has `ev`: 1; WOKEN when `wake` was kicked (drained); -1 when `closed` is
 * readable (a closed wire's eventfd stays readable for every waiter) or on error. A negative
 * wake or closed is not waited on.
 */
static int wait2(int fd, short ev, int wake, int closed) {
  struct pollfd p[3] = {{fd, ev, 0}, {wake, POLLIN, 0}, {closed, POLLIN, 0}};
  for (;;) {
    int r = poll(p, 3, -1);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return -1;
    if (p[2].revents) return -1;
    if (p[1].revents) {
      drain(wake);
      return WOKEN;
    }
    return 1;
  }
}

/*
 * Writes every byte of iov, waiting while the fd is full: 0, WOKEN or -1 (errno). A wake gives
 * up (leaving a partial frame on a connection that is being abandoned) only when *gen no longer
 * equals `expect`: a stale wake never cuts a frame on a connection still in use.
 */
static int writev_all(int fd, struct iovec *iov, int n, int wake, int closed, const uint64_t *gen,
                      uint64_t expect) {
  while (n > 0) {
    ssize_t w = writev(fd, iov, n > IOV_MAX ? IOV_MAX : n);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        int r = wait2(fd, POLLOUT, wake, closed);
        if (r == WOKEN && gen && __atomic_load_n(gen, __ATOMIC_ACQUIRE) == expect) continue;
        if (r == WOKEN || r < 0) return r;
        continue;
      }
      return -1;
    }
    while (n > 0 && (size_t)w >= iov->iov_len) {
      w -= iov->iov_len;
      iov++;
      n--;
    }
    if (n > 0) {
      iov->iov_base = (char *)iov->iov_base + w;
      iov->iov_len -= w;
    }
  }
  return 0;
}

static void put_u32(uint8_t *p, uint32_t v) {
  p[0] = v >> 24;
  p[1] = v >> 16;
  p[2] = v >> 8;
  p[3] = v;
}
static uint32_t get_u32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static void put_u64(uint8_t *p, uint64_t v) {
  put_u32(p, (uint32_t)(v >> 32));
  put_u32(p + 4, (uint32_t)v);
}
/* A stream frame (data header, ack, eof): u32 length + u8 type + u8 stream + u64 offset. */
static void put_head(uint8_t *h, uint8_t type, uint8_t stream, uint64_t offset, uint32_t payload) {
  put_u32(h, 10 + payload);
  h[4] = type;
  h[5] = stream;
  put_u64(h + 6, offset);
}

/* ---------- events to JavaScript ---------- */

typedef struct event {
  const char *kind;
  double a, b;
  uint8_t *data;
  size_t len;
  const char *text;
} event_t;

/*
 * Set by quiesce() (JavaScript calls it on process 'exit'): no thread posts any more. A post
 * racing with the teardown of Node's environment at exit would lock a destroyed mutex (libuv
 * aborts); quiesce() waits for the posts in flight.
 */
static int g_quiesced;
static int g_posting;

static void post(napi_threadsafe_function tsfn, const char *kind, double a, double b,
                 const uint8_t *data, size_t len, const char *text) {
  __atomic_add_fetch(&g_posting, 1, __ATOMIC_SEQ_CST);
  if (__atomic_load_n(&g_quiesced, __ATOMIC_SEQ_CST)) {
    __atomic_sub_fetch(&g_posting, 1, __ATOMIC_SEQ_CST);
    return;
  }
  event_t *e = calloc(1, sizeof *e);
  if (!e) {
    __atomic_sub_fetch(&g_posting, 1, __ATOMIC_SEQ_CST);
    return;
  }
  e->kind = kind;
  e->a = a;
  e->b = b;
  e->text = text;
  if (data && len) {
    e->data = malloc(len);
    if (e->data) {
      memcpy(e->data, data, len);
      e->len = len;
    }
  }
  if (napi_call_threadsafe_function(tsfn, e, napi_tsfn_nonblocking) != napi_ok) {
    free(e->data);
    free(e);
  }
  __atomic_sub_fetch(&g_posting, 1, __ATOMIC_SEQ_CST);
}

/* quiesce(): the process is exiting; returns once no thread is posting or will post. */
static napi_value js_quiesce(napi_env env, napi_callback_info info) {
  (void)env;
  (void)info;
  __atomic_store_n(&g_quiesced, 1, __ATOMIC_SEQ_CST);
  while (__atomic_load_n(&g_posting, __ATOMIC_SEQ_CST) > 0) sched_yield();
  return NULL;
}

static void free_data(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  free(data);
}

static void call_js(napi_env env, napi_value cb, void *ctx, void *data) {
  (void)ctx;
  event_t *e = data;
  if (env && cb) {
    napi_value argv[4], undef;
    napi_get_undefined(env, &undef);
    napi_create_string_utf8(env, e->kind, NAPI_AUTO_LENGTH, &argv[0]);
    napi_create_double(env, e->a, &argv[1]);
    napi_create_double(env, e->b, &argv[2]);
    if (e->data) {
      napi_create_external_buffer(env, e->len, e->data, free_data, NULL, &argv[3]);
      e->data = NULL;
    } else if (e->text) {
      napi_create_string_utf8(env, e->text, NAPI_AUTO_LENGTH, &argv[3]);
    } else {
      argv[3] = undef;
    }
    napi_value result;
    napi_call_function(env, undef, cb, 4, argv, &result);
  }
  free(e->data);
  free(e);
}

static napi_threadsafe_function make_tsfn(napi_env env, napi_value cb, const char *name) {
  napi_value res;
  napi_threadsafe_function tsfn = NULL;
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &res);
  napi_create_threadsafe_function(env, cb, NULL, res, 0, 1, NULL, NULL, NULL, call_js, &tsfn);
  return tsfn;
}

/* ---------- wire ---------- */

/*
 * Whole frames only, never interleaved: a data batch is written by the holder of `mu`; a control
 * frame (an ack, JavaScript's frames) is appended to `q` and written by whoever holds `mu` next,
 * before any data, or at once without waiting when `mu` is free (wire_flush_nb). So an inbound
 * thread never blocks on a wire: two shims whose outbound threads each fill the other's pipe keep
 * reading, and their acks go out as the batches drain.
 */
typedef struct wire {
  int fd;
  int wake; /* readable once closed */
  int flusher; /* an eventfd to kick when control frames wait (the inbound's), or -1 */
  int closed, broken;
  int refs;
  pthread_mutex_t mu;
  pthread_mutex_t qmu; /* guards q, qlen, qoff, flusher */
  uint8_t *q;
  size_t qlen, qoff, qcap;
  pthread_mutex_t ref_mu;
} wire_t;

static wire_t *wire_new(int fd) {
  wire_t *w = calloc(1, sizeof *w);
  w->fd = fd;
  w->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  w->flusher = -1;
  w->refs = 1;
  pthread_mutex_init(&w->mu, NULL);
  pthread_mutex_init(&w->qmu, NULL);
  pthread_mutex_init(&w->ref_mu, NULL);
  set_nonblock(fd);
  return w;
}
static void wire_ref(wire_t *w) {
  pthread_mutex_lock(&w->ref_mu);
  w->refs++;
  pthread_mutex_unlock(&w->ref_mu);
}
/* The last reference closes the fd: no thread can write to a reused fd number. */
static void wire_unref(wire_t *w) {
  pthread_mutex_lock(&w->ref_mu);
  int left = --w->refs;
  pthread_mutex_unlock(&w->ref_mu);
  if (left > 0) return;
  close(w->fd);
  close(w->wake);
  free(w->q);
  free(w);
}

static int wire_pending(wire_t *w) {
  pthread_mutex_lock(&w->qmu);
  int p = w->qoff < w->qlen && !w->closed && !w->broken;
  pthread_mutex_unlock(&w->qmu);
  return p;
}

/*
 * Writes the queued control frames; the caller holds mu. Blocking: waits while the fd is full
 * (0, WOKEN or -1). Non-blocking: 1 when some are left for later.
 */
static int wire_flush_q(wire_t *w, int blocking, int wake2, const uint64_t *gen, uint64_t expect) {
  for (;;) {
    pthread_mutex_lock(&w->qmu);
    if (w->qoff == w->qlen) {
      w->qoff = w->qlen = 0;
      pthread_mutex_unlock(&w->qmu);
      return 0;
    }
    ssize_t n = write(w->fd, w->q + w->qoff, w->qlen - w->qoff);
    int err = errno;
    if (n > 0) w->qoff += (size_t)n;
    pthread_mutex_unlock(&w->qmu);
    if (n > 0 || (n < 0 && err == EINTR)) continue;
    if (n < 0 && err == EAGAIN) {
      if (!blocking) return 1;
      int r = wait2(w->fd, POLLOUT, wake2, w->wake);
      if (r == WOKEN && gen && __atomic_load_n(gen, __ATOMIC_ACQUIRE) == expect) continue;
      if (r == WOKEN || r < 0) return r;
      continue;
    }
    return -1;
  }
}

/* Queues one control frame; writes what it can now when no one holds the wire. */
static void wire_send(wire_t *w, const uint8_t *frame, size_t len) {
  pthread_mutex_lock(&w->qmu);
  if (w->qlen + len > w->qcap) {
    size_t ncap = (w->qlen + len) * 2;
    uint8_t *nq = realloc(w->q, ncap);
    if (!nq) {
      pthread_mutex_unlock(&w->qmu);
      return;
    }
    w->q = nq;
    w->qcap = ncap;
  }
  memcpy(w->q + w->qlen, frame, len);
  w->qlen += len;
  int flusher = w->flusher;
  pthread_mutex_unlock(&w->qmu);
  if (pthread_mutex_trylock(&w->mu) == 0) {
    if (!w->closed && !w->broken && wire_flush_q(w, 0, -1, NULL, 0) < 0) w->broken = 1;
    pthread_mutex_unlock(&w->mu);
  }
  if (flusher >= 0 && wire_pending(w)) kick(flusher);
}

/* Non-blocking: writes queued control frames if no one holds the wire. */
static void wire_flush_nb(wire_t *w) {
  if (pthread_mutex_trylock(&w->mu) != 0) return;
  if (!w->closed && !w->broken && wire_flush_q(w, 0, -1, NULL, 0) < 0) w->broken = 1;
  pthread_mutex_unlock(&w->mu);
}

/* Writes a batch of whole data frames (queued control frames before and after it), blocking. */
static int wire_writev(wire_t *w, struct iovec *iov, int n, int wake2, const uint64_t *gen,
                       uint64_t expect) {
  pthread_mutex_lock(&w->mu);
  int r = -1;
  if (!w->closed && !w->broken) {
    /* The writer's own wake (attach, detach) or the wire's closing ends a wait. */
    r = wire_flush_q(w, 1, wake2, gen, expect);
    if (r == 0) r = writev_all(w->fd, iov, n, wake2, w->wake, gen, expect);
    if (r == 0) r = wire_flush_q(w, 1, wake2, gen, expect);
    if (r == -1) w->broken = 1;
  }
  pthread_mutex_unlock(&w->mu);
  return r;
}

/* ---------- outbound ---------- */

typedef struct outbound {
  int src;
  int wake;
  uint8_t stream;
  uint8_t *mem;
  uint64_t cap;
  uint64_t acked, filled, sent, high;
  int src_done, eof_written, closing;
  uint64_t gen;
  wire_t *wire;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  napi_threadsafe_function tsfn;
  /* splice mode: stage pipe (source -> here -> wire), replay pipe (tee'd copies), /dev/null */
  int stage[2], replay[2], devnull;
  uint64_t discarded;
} outbound_t;

static void *out_main(void *arg) {
  outbound_t *o = arg;
  uint8_t heads[IOV_FRAMES][DATA_HEADER];
  struct iovec iov[IOV_FRAMES * 2];
  pthread_mutex_lock(&o->mu);
  while (!o->closing) {
    if (o->sent < o->acked) o->sent = o->acked;
    wire_t *w = o->wire;
    if (w && (o->sent < o->filled || (o->src_done && !o->eof_written))) {
      uint64_t off = o->sent;
      int n = 0;
      while (off < o->filled && n < IOV_FRAMES) {
        uint64_t pos = off % o->cap, len = o->filled - off;
        if (len > MAX_PAYLOAD) len = MAX_PAYLOAD;
        if (len > o->cap - pos) len = o->cap - pos;
        put_head(heads[n], T_DATA, o->stream, off, (uint32_t)len);
        iov[2 * n] = (struct iovec){heads[n], DATA_HEADER};
        iov[2 * n + 1] = (struct iovec){o->mem + pos, len};
        n++;
        off += len;
      }
      int eof = off == o->filled && o->src_done;
      int parts = 2 * n;
      uint8_t eofh[DATA_HEADER];
      if (eof) {
        put_head(eofh, T_EOF, o->stream, off, 0);
        iov[parts++] = (struct iovec){eofh, DATA_HEADER};
      }
      uint64_t gen = o->gen;
      wire_ref(w);
      pthread_mutex_unlock(&o->mu);
      int r = wire_writev(w, iov, parts, o->wake, &o->gen, gen);
      pthread_mutex_lock(&o->mu);
      wire_unref(w);
      if (o->gen != gen || r == WOKEN) continue;
      if (r == 0) {
        o->sent = off;
        if (off > o->high) o->high = off;
        if (eof) o->eof_written = 1;
      } else {
        o->wire = NULL;
        __atomic_add_fetch(&o->gen, 1, __ATOMIC_RELEASE);
        wire_unref(w);
        post(o->tsfn, "broken", 0, 0, NULL, 0, NULL);
      }
      continue;
    }
    if (!o->src_done && o->filled - o->acked < o->cap) {
      uint64_t pos = o->filled % o->cap, room = o->cap - (o->filled - o->acked);
      if (room > o->cap - pos) room = o->cap - pos;
      if (room > READ_MAX) room = READ_MAX;
      pthread_mutex_unlock(&o->mu);
      ssize_t r;
      int woken = 0;
      for (;;) {
        r = read(o->src, o->mem + pos, room);
        if (r >= 0) break;
        if (errno == EINTR) continue;
        if (errno != EAGAIN) break;
        int k = wait2(o->src, POLLIN, o->wake, -1);
        if (k == WOKEN) woken = 1;
        if (k != 1) break;
      }
      pthread_mutex_lock(&o->mu);
      if (r > 0) {
        o->filled += (uint64_t)r;
      } else if (!woken) {
        /* EOF, or a read error (the source is gone): the stream ends after what was read. */
        o->src_done = 1;
        post(o->tsfn, "end", (double)o->filled, 0, NULL, 0, NULL);
      }
      continue;
    }
    pthread_cond_wait(&o->cv, &o->mu);
  }
  pthread_mutex_unlock(&o->mu);
  return NULL;
}

/* ---------- inbound ---------- */

typedef struct piece {
  uint64_t roff; /* where in the ring (monotonic) */
  uint32_t len;
} piece_t;

typedef struct sink {
  int fd; /* -1: the stream's frames go to JavaScript */
  int keep_open, dead, ended, has_eof;
  uint64_t received, delivered, last_ack, eof_at;
  int64_t ack_due; /* ms (CLOCK_MONOTONIC) by which delivered bytes must be acknowledged; 0: none */
  piece_t *q;
  size_t qhead, qlen, qcap;
} sink_t;

typedef struct inbound {
  int conn; /* -1: detached */
  int wake, closing;
  uint64_t gen;
  wire_t *reply;
  sink_t s[3];
  uint8_t *mem;
  uint64_t cap, head, base; /* ring: bytes read so far (monotonic), base: offset at mem[0] */
  uint64_t ack_every;
  int ack_delay_ms;
  /* decoder */
  int st; /* 0 preamble, 1 length, 2 body, 3 payload */
  int first;
  uint8_t carry[MAX_FRAME_LENGTH + PREAMBLE];
  uint32_t carried, need, length;
  uint8_t dstream;
  uint64_t doffset, remaining;
  uint8_t sniff[64];
  uint32_t sniffed;
  int devnull; /* splice mode: where duplicates go */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  napi_threadsafe_function tsfn;
} inbound_t;

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

static int64_t now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void send_ack(inbound_t *in, int stream) {
  sink_t *s = &in->s[stream];
  s->last_ack = s->delivered;
  s->ack_due = 0;
  if (!in->reply) return;
  uint8_t h[DATA_HEADER];
  put_head(h, T_ACK, (uint8_t)stream, s->delivered, 0);
  wire_send(in->reply, h, DATA_HEADER);
}

/* A native sink reached its eof: end it, acknowledge, tell JavaScript. */
static void maybe_end(inbound_t *in, int i) {
  sink_t *s = &in->s[i];
  if (s->ended || !s->has_eof || s->delivered < s->eof_at || s->qlen > 0) return;
  s->ended = 1;
  if (!s->keep_open) close(s->fd);
  send_ack(in, i);
  post(in->tsfn, "eof", i, (double)s->eof_at, NULL, 0, NULL);
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
static void in_garbled(inbound_t *in, const char *msg) { post(in->tsfn, "garbled", 0, 0, NULL, 0, msg); }

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
  post(in->tsfn, "frame", 0, 0, b, n, NULL);
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
        post(in->tsfn, "garbled", 1, 0, in->sniff, in->sniffed, NULL);
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
        post(in->tsfn, "garbled", 2, (b[8] << 8) | b[9], NULL, 0, NULL);
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
      post(in->tsfn, "frame", 0, 0, b, in->length, NULL);
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

static void *in_main(void *arg) {
  inbound_t *in = arg;
  pthread_mutex_lock(&in->mu);
  while (!in->closing) {
    flush_sinks(in);
    /* Detached (or garbled): what was accepted before is still delivered. */
    if (in->conn < 0 && !in_pending(in)) {
      pthread_cond_wait(&in->cv, &in->mu);
      continue;
    }
    uint64_t tail = in_tail(in);
    if (tail == in->head) in->base = in->head; /* empty: start again at mem[0] */
    uint64_t pos = (in->head - in->base) % in->cap;
    uint64_t room = in->cap - (in->head - tail);
    if (room > in->cap - pos) room = in->cap - pos;
    if (room > READ_MAX) room = READ_MAX;
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
    } else if (readable) {
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
    if (!readable) continue;
    if (got <= 0) {
      in->conn = -1;
      in->gen++;
      post(in->tsfn, "closed", 0, 0, NULL, 0, NULL);
      continue;
    }
    uint64_t roff = in->head;
    in->head += (uint64_t)got;
    if (in_consume(in, roff, in->mem + pos, (uint32_t)got) < 0) {
      in->conn = -1;
      in->gen++;
    }
  }
  pthread_mutex_unlock(&in->mu);
  return NULL;
}


/* ---------- splice mode (experiment: no resend, a sink that is slow stalls the connection) ---------- */

/* Waits for `ev` on fd alone (or the wake): 1, WOKEN, -1. */
static int wait1(int fd, short ev, int wake) { return wait2(fd, ev, wake, -1); }

/*
 * Outbound without copies: splice(2) the source into a stage pipe (up to a MiB), then per frame
 * tee(2) its payload into the replay pipe, write the header and splice the payload to the wire.
 * Acked bytes are spliced from the replay pipe to /dev/null.
 */
static void *out_splice_main(void *arg) {
  outbound_t *o = arg;
  pthread_mutex_lock(&o->mu);
  uint64_t staged = 0;
  while (!o->closing) {
    while (o->discarded < o->acked) {
      size_t n = o->acked - o->discarded;
      pthread_mutex_unlock(&o->mu);
      ssize_t r = splice(o->replay[0], NULL, o->devnull, NULL, n, SPLICE_F_NONBLOCK);
      pthread_mutex_lock(&o->mu);
      if (r <= 0) break;
      o->discarded += (uint64_t)r;
    }
    wire_t *w = o->wire;
    if (!w || (o->src_done && staged == 0 && o->eof_written)) {
      pthread_cond_wait(&o->cv, &o->mu);
      continue;
    }
    if (staged == 0 && o->src_done) {
      uint8_t h[DATA_HEADER];
      put_head(h, T_EOF, o->stream, o->filled, 0);
      struct iovec v = {h, DATA_HEADER};
      pthread_mutex_unlock(&o->mu);
      wire_writev(w, &v, 1, -1, NULL, 0);
      pthread_mutex_lock(&o->mu);
      o->eof_written = 1;
      continue;
    }
    if (staged == 0) {
      pthread_mutex_unlock(&o->mu);
      ssize_t r;
      for (;;) {
        r = splice(o->src, NULL, o->stage[1], NULL, READ_MAX, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
        if (r >= 0 || errno == EINTR) {
          if (r >= 0) break;
          continue;
        }
        if (errno != EAGAIN || wait1(o->src, POLLIN, o->wake) < 0) break;
      }
      pthread_mutex_lock(&o->mu);
      if (r > 0) staged = (uint64_t)r;
      else if (r == 0 || errno != EAGAIN) {
        o->src_done = 1;
        post(o->tsfn, "end", (double)o->filled, 0, NULL, 0, NULL);
      }
      continue;
    }
    uint64_t len = staged < MAX_PAYLOAD ? staged : MAX_PAYLOAD;
    if (o->cap - (o->filled - o->acked) < len) {
      pthread_cond_wait(&o->cv, &o->mu);
      continue;
    }
    uint64_t off = o->filled;
    pthread_mutex_unlock(&o->mu);
    for (uint64_t t = 0; t < len;) {
      ssize_t r = tee(o->stage[0], o->replay[1], len - t, SPLICE_F_NONBLOCK);
      if (r > 0) t += (uint64_t)r; /* a short tee cannot happen: replay has room for cap */
      else if (r < 0 && errno != EINTR && errno != EAGAIN) break;
    }
    uint8_t h[DATA_HEADER];
    put_head(h, T_DATA, o->stream, off, (uint32_t)len);
    pthread_mutex_lock(&w->mu);
    int bad = w->closed || w->broken;
    if (!bad) bad = wire_flush_q(w, 1, -1, NULL, 0) != 0;
    struct iovec v = {h, DATA_HEADER};
    if (!bad) bad = writev_all(w->fd, &v, 1, -1, w->wake, NULL, 0) != 0;
    for (uint64_t m = 0; !bad && m < len;) {
      ssize_t r = splice(o->stage[0], NULL, w->fd, NULL, len - m, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
      if (r > 0) m += (uint64_t)r;
      else if (r < 0 && errno == EAGAIN) bad = wait2(w->fd, POLLOUT, -1, w->wake) < 0;
      else if (!(r < 0 && errno == EINTR)) bad = 1;
    }
    if (!bad) bad = wire_flush_q(w, 1, -1, NULL, 0) != 0;
    if (bad) w->broken = 1;
    pthread_mutex_unlock(&w->mu);
    pthread_mutex_lock(&o->mu);
    staged -= len;
    o->filled += len;
    o->sent = o->high = o->filled;
    if (bad) {
      post(o->tsfn, "broken", 0, 0, NULL, 0, NULL);
      o->wire = NULL;
      wire_unref(w);
    }
  }
  pthread_mutex_unlock(&o->mu);
  return NULL;
}

/*
 * Waits for the connection to be readable, sending acks that fall due: 1, WOKEN (attach or
 * detach: the connection changed), -1. A wake that changed nothing (a stale kick) is ignored, so
 * a frame is never abandoned halfway on a connection still in use.
 */
static int in_wait_conn(inbound_t *in) {
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
static int in_read_exact(inbound_t *in, uint8_t *b, uint32_t n) {
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
static void *in_splice_main(void *arg) {
  inbound_t *in = arg;
  uint8_t b[MAX_FRAME_LENGTH];
  pthread_mutex_lock(&in->mu);
  while (!in->closing) {
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
              post(in->tsfn, "frame", 0, 0, b, len, NULL);
            }
          }
        }
      }
    }
    if (r == WOKEN || in->gen != gen) continue;
    if (r < 0) {
      in->conn = -1;
      in->gen++;
      post(in->tsfn, "closed", 0, 0, NULL, 0, NULL);
    }
  }
  pthread_mutex_unlock(&in->mu);
  return NULL;
}

/* ---------- N-API glue ---------- */

#define ARGS(n)                                                   \
  size_t argc = n;                                                \
  napi_value argv[n > 0 ? n : 1];                                 \
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
static int64_t arg_i64(napi_env env, napi_value v) {
  int64_t x = 0;
  napi_get_value_int64(env, v, &x);
  return x;
}
static double arg_f64(napi_env env, napi_value v) {
  double x = 0;
  napi_get_value_double(env, v, &x);
  return x;
}
static void *arg_ptr(napi_env env, napi_value v) {
  void *p = NULL;
  napi_get_value_external(env, v, &p);
  return p;
}
static napi_value num(napi_env env, double d) {
  napi_value v;
  napi_create_double(env, d, &v);
  return v;
}
static napi_value boolean(napi_env env, int b) {
  napi_value v;
  napi_get_boolean(env, b, &v);
  return v;
}
static napi_value external(napi_env env, void *p) {
  napi_value v;
  napi_create_external(env, p, NULL, NULL, &v);
  return v;
}
static napi_value fail(napi_env env, const char *msg) {
  napi_throw_error(env, "EBURROWNATIVE", msg);
  return NULL;
}

/* pipe() -> [readFd, writeFd], both close-on-exec (spawn dup2s the one it gives a child). */
static napi_value js_pipe(napi_env env, napi_callback_info info) {
  (void)info;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) < 0) return fail(env, strerror(errno));
  fcntl(fds[1], F_SETPIPE_SZ, 1 << 20);
  napi_value arr;
  napi_create_array_with_length(env, 2, &arr);
  napi_set_element(env, arr, 0, num(env, fds[0]));
  napi_set_element(env, arr, 1, num(env, fds[1]));
  return arr;
}

/* wire(fd): takes the fd (closed with the last reference). */
static napi_value js_wire(napi_env env, napi_callback_info info) {
  ARGS(1);
  return external(env, wire_new((int)arg_i64(env, argv[0])));
}

/*
 * wireWrite(wire, frame) -> false once the wire is closed or broken. Never blocks: the frame is
 * queued and written before the next data batch, or by the inbound thread whose reply wire it is.
 */
static napi_value js_wire_write(napi_env env, napi_callback_info info) {
  ARGS(2);
  wire_t *w = arg_ptr(env, argv[0]);
  void *data;
  size_t len;
  napi_get_buffer_info(env, argv[1], &data, &len);
  wire_send(w, data, len);
  return boolean(env, !w->closed && !w->broken);
}

/* wireClose(wire): no more writes; a writer blocked on it gives up. Idempotent. */
static napi_value js_wire_close(napi_env env, napi_callback_info info) {
  ARGS(1);
  wire_t *w = arg_ptr(env, argv[0]);
  if (!w->closed) {
    w->closed = 1;
    kick(w->wake);
    wire_unref(w);
  }
  return NULL;
}

/* outbound(srcFd, stream, capacity, onEvent(kind, a), splice?) */
static napi_value js_outbound(napi_env env, napi_callback_info info) {
  ARGS(5);
  outbound_t *o = calloc(1, sizeof *o);
  o->src = (int)arg_i64(env, argv[0]);
  o->stream = (uint8_t)arg_i64(env, argv[1]);
  o->cap = (uint64_t)arg_f64(env, argv[2]);
  o->mem = malloc(o->cap);
  if (!o->mem) return fail(env, "cannot allocate the replay ring");
  o->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  set_nonblock(o->src);
  pthread_mutex_init(&o->mu, NULL);
  pthread_cond_init(&o->cv, NULL);
  o->tsfn = make_tsfn(env, argv[3], "burrow-shim-outbound");
  bool use_splice = false;
  if (argc > 4) napi_get_value_bool(env, argv[4], &use_splice);
  if (use_splice) {
    if (pipe2(o->stage, O_CLOEXEC | O_NONBLOCK) < 0 || pipe2(o->replay, O_CLOEXEC | O_NONBLOCK) < 0) {
      return fail(env, strerror(errno));
    }
    fcntl(o->stage[1], F_SETPIPE_SZ, READ_MAX);
    if (fcntl(o->replay[1], F_SETPIPE_SZ, (int)o->cap) < 0) {
      return fail(env, "the replay pipe cannot hold the capacity (fs.pipe-max-size)");
    }
    o->devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
  }
  pthread_t t;
  pthread_create(&t, NULL, use_splice ? out_splice_main : out_main, o);
  pthread_detach(t);
  return external(env, o);
}

/* outAttach(o, wire, from): send from offset `from` on `wire` (then the eof, once ended). */
static napi_value js_out_attach(napi_env env, napi_callback_info info) {
  ARGS(3);
  outbound_t *o = arg_ptr(env, argv[0]);
  wire_t *w = arg_ptr(env, argv[1]);
  uint64_t from = (uint64_t)arg_f64(env, argv[2]);
  pthread_mutex_lock(&o->mu);
  if (from < o->acked || from > o->filled) {
    pthread_mutex_unlock(&o->mu);
    return fail(env, "peer resumes at an offset outside the replayable bytes");
  }
  if (o->wire) wire_unref(o->wire);
  wire_ref(w);
  o->wire = w;
  o->sent = from;
  o->eof_written = 0;
  __atomic_add_fetch(&o->gen, 1, __ATOMIC_RELEASE);
  pthread_cond_signal(&o->cv);
  pthread_mutex_unlock(&o->mu);
  kick(o->wake);
  return NULL;
}

static napi_value js_out_detach(napi_env env, napi_callback_info info) {
  ARGS(1);
  outbound_t *o = arg_ptr(env, argv[0]);
  pthread_mutex_lock(&o->mu);
  if (o->wire) wire_unref(o->wire);
  o->wire = NULL;
  __atomic_add_fetch(&o->gen, 1, __ATOMIC_RELEASE);
  pthread_mutex_unlock(&o->mu);
  kick(o->wake);
  return NULL;
}

/* outAck(o, offset) -> [acked, sent-so-far] or throws when out of range. */
static napi_value js_out_ack(napi_env env, napi_callback_info info) {
  ARGS(2);
  outbound_t *o = arg_ptr(env, argv[0]);
  double off = arg_f64(env, argv[1]);
  pthread_mutex_lock(&o->mu);
  /* Bounded by what was read, not by `high`: a write's ack can arrive before it is counted. */
  if (off < (double)o->acked || off > (double)o->filled) {
    pthread_mutex_unlock(&o->mu);
    return fail(env, "ack outside the bytes sent");
  }
  o->acked = (uint64_t)off;
  pthread_cond_signal(&o->cv);
  pthread_mutex_unlock(&o->mu);
  return NULL;
}

/* outState(o) -> [acked, high (sent on some wire), filled, ended] */
static napi_value js_out_state(napi_env env, napi_callback_info info) {
  ARGS(1);
  outbound_t *o = arg_ptr(env, argv[0]);
  napi_value arr;
  napi_create_array_with_length(env, 4, &arr);
  pthread_mutex_lock(&o->mu);
  napi_set_element(env, arr, 0, num(env, (double)o->acked));
  napi_set_element(env, arr, 1, num(env, (double)o->high));
  napi_set_element(env, arr, 2, num(env, (double)o->filled));
  napi_set_element(env, arr, 3, num(env, o->src_done));
  pthread_mutex_unlock(&o->mu);
  return arr;
}

/* inbound(capacity, ackEvery, ackDelayMs, onEvent(kind, a, b, data), splice?) */
static napi_value js_inbound(napi_env env, napi_callback_info info) {
  ARGS(5);
  inbound_t *in = calloc(1, sizeof *in);
  in->cap = (uint64_t)arg_f64(env, argv[0]);
  in->ack_every = (uint64_t)arg_f64(env, argv[1]);
  in->ack_delay_ms = (int)arg_i64(env, argv[2]);
  in->mem = malloc(in->cap);
  if (!in->mem) return fail(env, "cannot allocate the receive ring");
  in->conn = -1;
  for (int i = 0; i < 3; i++) in->s[i].fd = -1;
  in->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  pthread_mutex_init(&in->mu, NULL);
  pthread_cond_init(&in->cv, NULL);
  in->tsfn = make_tsfn(env, argv[3], "burrow-shim-inbound");
  bool use_splice = false;
  if (argc > 4) napi_get_value_bool(env, argv[4], &use_splice);
  in->devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
  pthread_t t;
  pthread_create(&t, NULL, use_splice ? in_splice_main : in_main, in);
  pthread_detach(t);
  return external(env, in);
}

/* inSink(in, stream, fd, keepOpen): the stream's data goes to fd natively from now on. */
static napi_value js_in_sink(napi_env env, napi_callback_info info) {
  ARGS(4);
  inbound_t *in = arg_ptr(env, argv[0]);
  int stream = (int)arg_i64(env, argv[1]);
  bool keep = false;
  napi_get_value_bool(env, argv[3], &keep);
  pthread_mutex_lock(&in->mu);
  in->s[stream].fd = (int)arg_i64(env, argv[2]);
  in->s[stream].keep_open = keep;
  set_nonblock(in->s[stream].fd);
  pthread_mutex_unlock(&in->mu);
  return NULL;
}

/* inAttach(in, connFd, replyWire, afterHandshake): read this connection from now on. */
static napi_value js_in_attach(napi_env env, napi_callback_info info) {
  ARGS(4);
  inbound_t *in = arg_ptr(env, argv[0]);
  int fd = (int)arg_i64(env, argv[1]);
  wire_t *w = arg_ptr(env, argv[2]);
  bool after = false;
  napi_get_value_bool(env, argv[3], &after);
  set_nonblock(fd);
  pthread_mutex_lock(&in->mu);
  if (in->reply) wire_unref(in->reply);
  wire_ref(w);
  in->reply = w;
  pthread_mutex_lock(&w->qmu);
  w->flusher = in->wake;
  pthread_mutex_unlock(&w->qmu);
  in->conn = fd;
  in->gen++;
  in->st = after ? 1 : 0;
  in->need = after ? 4 : PREAMBLE;
  in->first = !after;
  in->carried = 0;
  in->sniffed = 0;
  pthread_cond_signal(&in->cv);
  pthread_mutex_unlock(&in->mu);
  kick(in->wake);
  return NULL;
}

/* inDetach(in): stop reading the connection (its fd stays the caller's). */
static napi_value js_in_detach(napi_env env, napi_callback_info info) {
  ARGS(1);
  inbound_t *in = arg_ptr(env, argv[0]);
  pthread_mutex_lock(&in->mu);
  in->conn = -1;
  in->gen++;
  if (in->reply) wire_unref(in->reply);
  in->reply = NULL;
  pthread_mutex_unlock(&in->mu);
  kick(in->wake);
  return NULL;
}

/* inAckAll(in): acknowledge every native stream's delivered bytes now (after a reattach). */
static napi_value js_in_ack_all(napi_env env, napi_callback_info info) {
  ARGS(1);
  inbound_t *in = arg_ptr(env, argv[0]);
  pthread_mutex_lock(&in->mu);
  for (int i = 0; i < 3; i++) {
    if (in->s[i].fd >= 0) send_ack(in, i);
  }
  pthread_mutex_unlock(&in->mu);
  return NULL;
}

/* inDelivered(in, stream) */
static napi_value js_in_delivered(napi_env env, napi_callback_info info) {
  ARGS(2);
  inbound_t *in = arg_ptr(env, argv[0]);
  int stream = (int)arg_i64(env, argv[1]);
  pthread_mutex_lock(&in->mu);
  double d = (double)in->s[stream].delivered;
  pthread_mutex_unlock(&in->mu);
  return num(env, d);
}

/*
 * outRef(o, keep) / inRef(in, keep): whether the object keeps the process alive (its events may
 * still come). Both start referenced.
 */
static napi_value js_out_ref(napi_env env, napi_callback_info info) {
  ARGS(2);
  outbound_t *o = arg_ptr(env, argv[0]);
  bool keep = false;
  napi_get_value_bool(env, argv[1], &keep);
  if (keep) napi_ref_threadsafe_function(env, o->tsfn);
  else napi_unref_threadsafe_function(env, o->tsfn);
  return NULL;
}
static napi_value js_in_ref(napi_env env, napi_callback_info info) {
  ARGS(2);
  inbound_t *in = arg_ptr(env, argv[0]);
  bool keep = false;
  napi_get_value_bool(env, argv[1], &keep);
  if (keep) napi_ref_threadsafe_function(env, in->tsfn);
  else napi_unref_threadsafe_function(env, in->tsfn);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  struct {
    const char *name;
    napi_callback fn;
  } fns[] = {{"pipe", js_pipe},           {"wire", js_wire},
             {"wireWrite", js_wire_write}, {"wireClose", js_wire_close},
             {"outbound", js_outbound},   {"outAttach", js_out_attach},
             {"outDetach", js_out_detach}, {"outAck", js_out_ack},
             {"outState", js_out_state},   {"inbound", js_inbound},
             {"inSink", js_in_sink},       {"inAttach", js_in_attach},
             {"inDetach", js_in_detach},   {"inAckAll", js_in_ack_all},
             {"inDelivered", js_in_delivered}, {"quiesce", js_quiesce},
             {"outRef", js_out_ref},       {"inRef", js_in_ref}};
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value f;
    napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &f);
    napi_set_named_property(env, exports, fns[i].name, f);
  }
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
