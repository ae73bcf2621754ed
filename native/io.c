/* fds, events to JavaScript, and the wire (the design: pump.h). */
#include "pump.h"

/* ---------- fds ---------- */

void set_nonblock(int fd) {
  int fl = fcntl(fd, F_GETFL);
  if (fl >= 0 && !(fl & O_NONBLOCK)) fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

void drain(int efd) {
  uint64_t v;
  while (read(efd, &v, sizeof v) > 0) {
  }
}

void kick(int efd) {
  uint64_t one = 1;
  ssize_t r = write(efd, &one, sizeof one);
  (void)r;
}

/*
 * Waits until fd has `ev`: 1; WOKEN when `wake` was kicked (drained); -1 when `closed` is
 * readable (a closed wire's eventfd stays readable for every waiter) or on error. A negative
 * wake or closed is not waited on.
 */
int wait2(int fd, short ev, int wake, int closed) {
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
int writev_all(int fd, struct iovec *iov, int n, int wake, int closed, const uint64_t *gen,
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

void put_u32(uint8_t *p, uint32_t v) {
  p[0] = v >> 24;
  p[1] = v >> 16;
  p[2] = v >> 8;
  p[3] = v;
}
uint32_t get_u32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
void put_u64(uint8_t *p, uint64_t v) {
  put_u32(p, (uint32_t)(v >> 32));
  put_u32(p + 4, (uint32_t)v);
}
/* A stream frame (data header, ack, eof): u32 length + u8 type + u8 stream + u64 offset. */
void put_head(uint8_t *h, uint8_t type, uint8_t stream, uint64_t offset, uint32_t payload) {
  put_u32(h, 10 + payload);
  h[4] = type;
  h[5] = stream;
  put_u64(h + 6, offset);
}

/* ---------- events to JavaScript ---------- */


/*
 * Set by quiesce() (JavaScript calls it on process 'exit'): no thread posts any more. A post
 * racing with the teardown of Node's environment at exit would lock a destroyed mutex (libuv
 * aborts); quiesce() waits for the posts in flight.
 */
int g_quiesced;
int g_posting;

void post(napi_threadsafe_function tsfn, const char *kind, double a, double b,
                 const uint8_t *data, size_t len, const char *text) {
  post_at(tsfn, 0, kind, a, b, data, len, text);
}

/* post() of an event tagged with the attachment `gen` it comes from (the callback's 5th argument). */
void post_at(napi_threadsafe_function tsfn, uint64_t gen, const char *kind, double a, double b,
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
  e->gen = (double)gen;
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


static void free_data(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  free(data);
}

static void call_js(napi_env env, napi_value cb, void *ctx, void *data) {
  (void)ctx;
  event_t *e = data;
  if (env && cb) {
    napi_value argv[5], undef;
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
    napi_create_double(env, e->gen, &argv[4]);
    napi_value result;
    napi_call_function(env, undef, cb, 5, argv, &result);
  }
  free(e->data);
  free(e);
}

napi_threadsafe_function make_tsfn(napi_env env, napi_value cb, const char *name) {
  napi_value res;
  napi_threadsafe_function tsfn = NULL;
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &res);
  napi_create_threadsafe_function(env, cb, NULL, res, 0, 1, NULL, NULL, NULL, call_js, &tsfn);
  return tsfn;
}

/* ---------- wire ---------- */


wire_t *wire_new(int fd) {
  wire_t *w = calloc(1, sizeof *w);
  w->fd = fd;
  w->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  w->flusher = -1;
  w->refs = 1;
  struct stat st;
  w->vm = fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode);
  pthread_mutex_init(&w->mu, NULL);
  pthread_mutex_init(&w->qmu, NULL);
  pthread_mutex_init(&w->ref_mu, NULL);
  set_nonblock(fd);
  return w;
}
void wire_ref(wire_t *w) {
  pthread_mutex_lock(&w->ref_mu);
  w->refs++;
  pthread_mutex_unlock(&w->ref_mu);
}
/* The last reference closes the fd: no thread can write to a reused fd number. */
void wire_unref(wire_t *w) {
  pthread_mutex_lock(&w->ref_mu);
  int left = --w->refs;
  pthread_mutex_unlock(&w->ref_mu);
  if (left > 0) return;
  close(w->fd);
  close(w->wake);
  free(w->q);
  free(w);
}

int wire_pending(wire_t *w) {
  pthread_mutex_lock(&w->qmu);
  int p = w->qoff < w->qlen && !w->closed && !w->broken;
  pthread_mutex_unlock(&w->qmu);
  return p;
}

/*
 * Writes the queued control frames; the caller holds mu. Blocking: waits while the fd is full
 * (0, WOKEN or -1). Non-blocking: 1 when some are left for later.
 */
int wire_flush_q(wire_t *w, int blocking, int wake2, const uint64_t *gen, uint64_t expect) {
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
void wire_send(wire_t *w, const uint8_t *frame, size_t len) {
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
  wire_flush_nb(w);
  if (flusher >= 0 && wire_pending(w)) kick(flusher);
}

/* Non-blocking: writes queued control frames if no one holds the wire. */
void wire_flush_nb(wire_t *w) {
  if (pthread_mutex_trylock(&w->mu) != 0) return;
  if (!w->closed && !w->broken && wire_flush_q(w, 0, -1, NULL, 0) < 0) w->broken = 1;
  pthread_mutex_unlock(&w->mu);
}

/*
 * Like writev_all for a batch of data frames whose odd entries are payloads in an outbound's
 * replay ring: into a pipe, each payload is vmsplice(2)d (the pipe takes references to the ring's
 * pages: no copy) and each header written. That is safe because the ring reuses a byte's memory
 * only once the peer has acknowledged it, and the peer has it only after the pipe's reader (ssh,
 * sshd) took it out of the pipe; a pipe of an abandoned connection is never read again. Where
 * vmsplice is refused (not a pipe), `*vm` is cleared and the rest goes by writev.
 */
static int write_frames(int fd, int *vm, struct iovec *iov, int n, int wake, int closed,
                        const uint64_t *gen, uint64_t expect) {
  for (int i = 0; i < n; i++) {
    if (!*vm) return writev_all(fd, iov + i, n - i, wake, closed, gen, expect);
    while (iov[i].iov_len > 0) {
      ssize_t k = (i & 1) ? vmsplice(fd, &iov[i], 1, SPLICE_F_NONBLOCK)
                          : write(fd, iov[i].iov_base, iov[i].iov_len);
      if (k > 0) {
        iov[i].iov_base = (char *)iov[i].iov_base + k;
        iov[i].iov_len -= (size_t)k;
        continue;
      }
      if (k < 0 && errno == EINTR) continue;
      if (k < 0 && errno == EAGAIN) {
        int r = wait2(fd, POLLOUT, wake, closed);
        if (r == WOKEN && gen && __atomic_load_n(gen, __ATOMIC_ACQUIRE) == expect) continue;
        if (r == WOKEN || r < 0) return r;
        continue;
      }
      if ((i & 1) && k < 0 && (errno == EINVAL || errno == EBADF || errno == ENOSYS)) {
        *vm = 0; /* not a pipe: this entry and the rest by writev */
        break;
      }
      return -1;
    }
    if (!*vm) i--; /* the entry again, by writev */
  }
  return 0;
}

/*
 * Writes a batch of whole data frames (queued control frames before and after it), blocking:
 * payloads vmsplice'd where the wire is a pipe (write_frames).
 */
int wire_write_frames(wire_t *w, struct iovec *iov, int n, int wake2, const uint64_t *gen,
                      uint64_t expect) {
  pthread_mutex_lock(&w->mu);
  int r = -1;
  if (!w->closed && !w->broken) {
    r = wire_flush_q(w, 1, wake2, gen, expect);
    if (r == 0) r = write_frames(w->fd, &w->vm, iov, n, wake2, w->wake, gen, expect);
    if (r == 0) r = wire_flush_q(w, 1, wake2, gen, expect);
    if (r == -1) w->broken = 1;
  }
  pthread_mutex_unlock(&w->mu);
  return r;
}
