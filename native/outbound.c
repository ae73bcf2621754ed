/* The outbound thread: copies, and splice/tee for the experiment (the design: pump.h). */
#include "pump.h"

/* ---------- outbound ---------- */


void *out_main(void *arg) {
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
      int r = wire_write_frames(w, iov, parts, o->wake, &o->gen, gen);
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
        post(o->tsfn, "broken", (double)gen, 0, NULL, 0, NULL);
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

/* ---------- splice mode (experiment: no resend, a sink that is slow stalls the connection) ---------- */

/* Waits for `ev` on fd alone (or the wake): 1, WOKEN, -1. */
int wait1(int fd, short ev, int wake) { return wait2(fd, ev, wake, -1); }

/*
 * Outbound without copies: splice(2) the source into a stage pipe (up to a MiB), then per frame
 * tee(2) its payload into the replay pipe, write the header and splice the payload to the wire.
 * Acked bytes are spliced from the replay pipe to /dev/null.
 */
void *out_splice_main(void *arg) {
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
      wire_write_frames(w, &v, 1, -1, NULL, 0);
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
