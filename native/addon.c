/* The N-API functions (the design: pump.h). */
#include "pump.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

/* ---------- N-API glue ---------- */
/* quiesce(): the process is exiting; returns once no thread is posting or will post. */
static napi_value js_quiesce(napi_env env, napi_callback_info info) {
  (void)env;
  (void)info;
  __atomic_store_n(&g_quiesced, 1, __ATOMIC_SEQ_CST);
  while (__atomic_load_n(&g_posting, __ATOMIC_SEQ_CST) > 0) sched_yield();
  return NULL;
}


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

/*
 * takeFd(fd) -> a new close-on-exec fd for what `fd` is, `fd` itself now /dev/null. For stdio:
 * libuv never closes fds 0 to 2, and a number the pump closed would be reused by the next open
 * or accept (which then never closes either); /dev/null keeps the number taken.
 */
static napi_value js_take_fd(napi_env env, napi_callback_info info) {
  ARGS(1);
  int fd = (int)arg_i64(env, argv[0]);
  int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  if (moved < 0) return fail(env, strerror(errno));
  int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (nul < 0 || dup2(nul, fd) < 0) {
    int err = errno;
    if (nul >= 0) close(nul);
    close(moved);
    return fail(env, strerror(err));
  }
  close(nul);
  return num(env, moved);
}

/*
 * quickAck(fd) -> whether it took. Sets TCP_QUICKACK on a TCP socket: an ACK the kernel was
 * delaying goes out now, and the next few are not delayed (the kernel goes back to delaying once
 * the connection looks interactive again, so a caller sets it after each read it cares about).
 * Used by burrow's SSH servers during a connection's handshake (src/ssh/quick-ack.ts); not the byte
 * path.
 */
static napi_value js_quick_ack(napi_env env, napi_callback_info info) {
  ARGS(1);
  int fd = (int)arg_i64(env, argv[0]);
  int one = 1;
  napi_value r;
  napi_get_boolean(env, setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one) == 0, &r);
  return r;
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

/* wireQueued(wire) -> bytes of control frames not written yet (0 once closed or broken). */
static napi_value js_wire_queued(napi_env env, napi_callback_info info) {
  ARGS(1);
  wire_t *w = arg_ptr(env, argv[0]);
  pthread_mutex_lock(&w->qmu);
  size_t n = w->closed || w->broken ? 0 : w->qlen - w->qoff;
  pthread_mutex_unlock(&w->qmu);
  return num(env, (double)n);
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
  pthread_create(&o->thread, NULL, use_splice ? out_splice_main : out_main, o);
  napi_value v;
  napi_create_external(env, o, out_finalize, NULL, &v);
  return v;
}

/*
 * outAttach(o, wire, from) -> gen: send from offset `from` on `wire` (then the eof, once ended).
 * A `broken` event carries the gen of the attachment whose wire broke.
 */
static napi_value js_out_attach(napi_env env, napi_callback_info info) {
  ARGS(3);
  outbound_t *o = arg_ptr(env, argv[0]);
  wire_t *w = arg_ptr(env, argv[1]);
  uint64_t from = (uint64_t)arg_f64(env, argv[2]);
  if (o->destroyed) return fail(env, "the outbound is closed");
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
  double gen = (double)o->gen;
  pthread_cond_signal(&o->cv);
  pthread_mutex_unlock(&o->mu);
  kick(o->wake);
  return num(env, gen);
}

static napi_value js_out_detach(napi_env env, napi_callback_info info) {
  ARGS(1);
  outbound_t *o = arg_ptr(env, argv[0]);
  if (o->destroyed) return NULL;
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
  if (o->destroyed) return fail(env, "the outbound is closed");
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
  pthread_create(&in->thread, NULL, use_splice ? in_splice_main : in_main, in);
  napi_value v;
  napi_create_external(env, in, in_finalize, NULL, &v);
  return v;
}

/* inSink(in, stream, fd, keepOpen): the stream's data goes to fd natively from now on. */
static napi_value js_in_sink(napi_env env, napi_callback_info info) {
  ARGS(4);
  inbound_t *in = arg_ptr(env, argv[0]);
  int stream = (int)arg_i64(env, argv[1]);
  bool keep = false;
  napi_get_value_bool(env, argv[3], &keep);
  if (in->destroyed || stream < 0 || stream > 2) return fail(env, "the inbound is closed or the stream unknown");
  pthread_mutex_lock(&in->mu);
  in->s[stream].fd = (int)arg_i64(env, argv[2]);
  in->s[stream].keep_open = keep;
  set_nonblock(in->s[stream].fd);
  pthread_mutex_unlock(&in->mu);
  return NULL;
}

/*
 * inAttach(in, connFd, replyWire, afterHandshake) -> gen: read this connection from now on (the
 * inbound takes the fd: it closes it once it stops reading it). Its
 * frame, closed and garbled events carry `gen` (the callback's 5th argument); an event with an
 * older one comes from a connection attached before (still queued when this one was attached).
 */
static napi_value js_in_attach(napi_env env, napi_callback_info info) {
  ARGS(4);
  inbound_t *in = arg_ptr(env, argv[0]);
  int fd = (int)arg_i64(env, argv[1]);
  wire_t *w = arg_ptr(env, argv[2]);
  bool after = false;
  napi_get_value_bool(env, argv[3], &after);
  if (in->destroyed) return fail(env, "the inbound is closed");
  set_nonblock(fd);
  pthread_mutex_lock(&in->mu);
  in_release_reply(in);
  wire_ref(w);
  in->reply = w;
  pthread_mutex_lock(&w->qmu);
  w->flusher = in->wake;
  pthread_mutex_unlock(&w->qmu);
  in_drop_conn(in);
  in->conn = fd;
  in->attach_head = in->head;
  in->gen++;
  in->st = after ? 1 : 0;
  in->need = after ? 4 : PREAMBLE;
  in->first = !after;
  in->carried = 0;
  in->splice_ok = 1;
  in->splicing = 0;
  in->sniffed = 0;
  double gen = (double)in->gen;
  pthread_cond_signal(&in->cv);
  pthread_mutex_unlock(&in->mu);
  kick(in->wake);
  return num(env, gen);
}

/* inDetach(in): stop reading the connection (the inbound closes its fd). */
static napi_value js_in_detach(napi_env env, napi_callback_info info) {
  ARGS(1);
  inbound_t *in = arg_ptr(env, argv[0]);
  if (in->destroyed) return NULL;
  pthread_mutex_lock(&in->mu);
  in_drop_conn(in);
  in->gen++;
  in_release_reply(in);
  pthread_mutex_unlock(&in->mu);
  kick(in->wake);
  return NULL;
}

/* inAckAll(in): acknowledge every native stream's delivered bytes now (after a reattach). */
static napi_value js_in_ack_all(napi_env env, napi_callback_info info) {
  ARGS(1);
  inbound_t *in = arg_ptr(env, argv[0]);
  if (in->destroyed) return NULL;
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
  if (o->destroyed) return NULL;
  if (keep) napi_ref_threadsafe_function(env, o->tsfn);
  else napi_unref_threadsafe_function(env, o->tsfn);
  return NULL;
}
static napi_value js_in_ref(napi_env env, napi_callback_info info) {
  ARGS(2);
  inbound_t *in = arg_ptr(env, argv[0]);
  bool keep = false;
  napi_get_value_bool(env, argv[1], &keep);
  if (in->destroyed) return NULL;
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
             {"wireQueued", js_wire_queued}, {"takeFd", js_take_fd},
             {"outbound", js_outbound},   {"outAttach", js_out_attach},
             {"outDetach", js_out_detach}, {"outAck", js_out_ack},
             {"outState", js_out_state},   {"inbound", js_inbound},
             {"inSink", js_in_sink},       {"inAttach", js_in_attach},
             {"inDetach", js_in_detach},   {"inAckAll", js_in_ack_all},
             {"inDelivered", js_in_delivered}, {"quiesce", js_quiesce},
             {"outRef", js_out_ref},       {"inRef", js_in_ref},
             {"outClose", js_out_close},   {"inClose", js_in_close},
             {"quickAck", js_quick_ack}};
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value f;
    napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &f);
    napi_set_named_property(env, exports, fns[i].name, f);
  }
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
