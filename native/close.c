/*
 * Closing an outbound or an inbound (the design: pump.h).
 *
 * Contract of outClose(o) / inClose(in), called from JavaScript, idempotent:
 * - the object's thread is stopped and joined before it returns: no read, write or event after;
 *   events already queued for JavaScript are dropped (their memory freed), none is delivered;
 * - the ring is freed; the object's eventfd (and splice pipes) are closed;
 * - fds the object does not own stay open: an outbound's source, a sink given with keepOpen. An
 *   inbound's connection is closed. A sink given without keepOpen (the inbound ends it at its eof) is
 *   closed if it has not ended. Wires are released (a wire closes its fd with its last reference);
 * - every later call on the handle throws, but outRef/inRef/outDetach/inDetach do nothing.
 * A thread blocked writing to a full wire gives up at once. Joining can wait only while another
 * outbound holds the same wire blocked on it (the holder's stdout and stderr share one): closing
 * that wire (wireClose) first ends that wait. The struct itself is freed when its handle is
 * garbage collected; a handle collected before it was closed leaks (its thread still runs).
 */
#include "pump.h"

static napi_value fail_closed(napi_env env) {
  napi_throw_error(env, "EBURROWNATIVE", "bad argument: not a pump handle");
  return NULL;
}

/* The inbound's reply wire stops kicking the inbound's eventfd (which may be closed soon). */
void in_release_reply(inbound_t *in) {
  wire_t *w = in->reply;
  if (!w) return;
  pthread_mutex_lock(&w->qmu);
  if (w->flusher == in->wake) w->flusher = -1;
  pthread_mutex_unlock(&w->qmu);
  wire_unref(w);
  in->reply = NULL;
}

/*
 * The inbound stops reading its connection (mu held) and owns closing it: the thread may be inside
 * read(2) on that fd right now, so the thread closes it at the top of its next turn (after the
 * kick that follows), never a number another open could have reused meanwhile.
 */
void in_drop_conn(inbound_t *in) {
  if (in->conn < 0) return;
  if (in->ndead < DEAD_MAX) in->dead[in->ndead++] = in->conn;
  else close(in->conn); /* not reached while the thread turns: it empties the list each turn */
  in->conn = -1;
}

/* The thread's side (mu held): closes the connections dropped since its last turn. */
void in_close_dead(inbound_t *in) {
  for (int i = 0; i < in->ndead; i++) close(in->dead[i]);
  in->ndead = 0;
}

/* The handle a close was called with, or NULL (a JavaScript error is thrown then). */
static void *handle_arg(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  void *p = NULL;
  if (argc < 1 || napi_get_value_external(env, argv[0], &p) != napi_ok || !p) fail_closed(env);
  return p;
}

napi_value js_out_close(napi_env env, napi_callback_info info) {
  outbound_t *o = handle_arg(env, info);
  if (!o) return NULL;
  if (o->destroyed) return NULL;
  pthread_mutex_lock(&o->mu);
  o->closing = 1;
  /* A changed generation makes a woken writer give up its batch instead of waiting on. */
  __atomic_add_fetch(&o->gen, 1, __ATOMIC_RELEASE);
  pthread_cond_signal(&o->cv);
  pthread_mutex_unlock(&o->mu);
  kick(o->wake);
  pthread_join(o->thread, NULL);
  o->destroyed = 1;
  if (o->wire) wire_unref(o->wire);
  o->wire = NULL;
  napi_release_threadsafe_function(o->tsfn, napi_tsfn_abort);
  close(o->wake);
  if (o->devnull > 0) {
    close(o->stage[0]);
    close(o->stage[1]);
    close(o->replay[0]);
    close(o->replay[1]);
    close(o->devnull);
  }
  free(o->mem);
  o->mem = NULL;
  return NULL;
}

napi_value js_in_close(napi_env env, napi_callback_info info) {
  inbound_t *in = handle_arg(env, info);
  if (!in) return NULL;
  if (in->destroyed) return NULL;
  pthread_mutex_lock(&in->mu);
  in->closing = 1;
  in->gen++;
  pthread_cond_signal(&in->cv);
  pthread_mutex_unlock(&in->mu);
  kick(in->wake);
  pthread_join(in->thread, NULL);
  in->destroyed = 1;
  in_drop_conn(in);
  in_close_dead(in);
  in_release_reply(in);
  napi_release_threadsafe_function(in->tsfn, napi_tsfn_abort);
  for (int i = 0; i < 3; i++) {
    sink_t *s = &in->s[i];
    if (s->fd >= 0 && !s->keep_open && !s->ended) close(s->fd);
    s->fd = -1;
    free(s->q);
    s->q = NULL;
    s->qlen = s->qcap = s->qhead = 0;
  }
  close(in->wake);
  if (in->devnull >= 0) close(in->devnull);
  free(in->mem);
  in->mem = NULL;
  return NULL;
}

/* Handle finalizers: free a closed object; leave a running one (its thread uses it). */
void out_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  outbound_t *o = data;
  if (!o->destroyed) return;
  pthread_mutex_destroy(&o->mu);
  pthread_cond_destroy(&o->cv);
  free(o);
}

void in_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  inbound_t *in = data;
  if (!in->destroyed) return;
  pthread_mutex_destroy(&in->mu);
  pthread_cond_destroy(&in->cv);
  free(in);
}
