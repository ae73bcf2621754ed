/*
 * The shim's byte path below JavaScript (N-API, Linux), used by `burrow shim` at both ends through
 * src/shim/native-peer.ts (BURROW_SHIM_NATIVE=0 keeps the JavaScript path): one native thread per
 * direction moves a stream's bytes in the shim's frame format (src/shim/frames.ts), so no
 * JavaScript runs per chunk. JavaScript keeps the protocol: handshakes, the acks it applies, exit
 * status, pings, signals, and when to attach a connection.
 *
 *   wire      the write side of one connection (a pipe or socket fd). Data batches are written
 *             whole under its mutex; control frames (acks, JavaScript's wireWrite) are queued and
 *             written between batches, so no reader ever blocks on a wire.
 *   outbound  one thread: read(2) of the source fd into a replay ring of `capacity` bytes
 *             (offset o at mem[o % capacity]), then [header, payload]... per read to the attached
 *             wire: into a pipe each payload by vmsplice(2) from the ring (see write_frames in
 *             io.c for why that is safe), else one writev(2). Bytes stay until outAck() passes them; outAttach(wire,
 *             from) resends from `from`, then the eof frame once the source has ended.
 *   inbound   one thread: read(2) of the attached connection into a ring; a data frame of a
 *             stream with a native sink is written (non-blocking writev, the rest kept in the
 *             ring) to the sink, duplicates dropped and gaps refused as ReceiveCounter does; acks
 *             go out every `ackEvery` delivered bytes and within `ackDelayMs` of a delivery.
 *             Every other frame goes to JavaScript as its body. While the sink takes them and
 *             nothing is queued for it, a payload that is new goes from the connection to the
 *             sink by splice(2) instead (no copy where both are pipes: the holder's channel and
 *             its command's stdin), the frame headers around it read alone; a full sink, a
 *             resent (partly duplicate) payload or an fd splice refuses takes the copy path.
 *   splice    (an option of both, for bench/experiments/shim-native.ts only) splice(2)/tee(2)
 *             for every byte; the replay copy lives in a pipe (at most fs.pipe-max-size), there
 *             is no resend, and a sink that stops reading stalls the connection.
 *
 * Every fd given is set O_NONBLOCK (as libuv does) and waited on with poll(2) next to an eventfd,
 * so attach and detach interrupt a blocked read or write (a stale kick never cuts a frame).
 * Events reach JavaScript through one threadsafe function per object, a few per MiB (acks),
 * never per chunk; quiesce() stops them at process exit.
 *
 * Ownership: a wire closes its fd with its last reference; an inbound closes each connection it
 * was given once it stops reading it (detach, another attach, EOF, garbage, inClose); an
 * outbound's source and a sink given with keepOpen stay the caller's.
 *
 * Lifecycle: outClose()/inClose() stop and join the object's thread, free its ring and close
 * what it owns (close.c); the handle then refuses every call. Without them the thread lives
 * until the process exits.
 */
#ifndef BURROW_PUMP_H
#define BURROW_PUMP_H
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
#include <sys/stat.h>
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

typedef struct event {
  const char *kind;
  double a, b;
  uint8_t *data;
  size_t len;
  const char *text;
  double gen; /* an inbound's attachment the event comes from (inAttach's result); else 0 */
} event_t;

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
  int vm; /* a pipe that takes vmsplice(2) (wire_write_frames) */
  int refs;
  pthread_mutex_t mu;
  pthread_mutex_t qmu; /* guards q, qlen, qoff, flusher */
  uint8_t *q;
  size_t qlen, qoff, qcap;
  pthread_mutex_t ref_mu;
} wire_t;

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
  pthread_t thread;
  int destroyed; /* outClose() ran: the thread is joined, the ring freed */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  napi_threadsafe_function tsfn;
  /* splice mode: stage pipe (source -> here -> wire), replay pipe (tee'd copies), /dev/null */
  int stage[2], replay[2], devnull;
  uint64_t discarded;
} outbound_t;

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

#define DEAD_MAX 16

typedef struct inbound {
  int conn; /* -1: detached. The inbound owns it: see in_drop_conn */
  int dead[DEAD_MAX]; /* connections dropped, for the thread to close (under mu) */
  int ndead;
  int wake, closing;
  uint64_t gen;
  wire_t *reply;
  sink_t s[3];
  uint8_t *mem;
  uint64_t cap, head, base; /* ring: bytes read so far (monotonic), base: offset at mem[0] */
  uint64_t attach_head; /* head when the connection was attached: its closed event says what came */
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
  /* copy mode: payloads moved by splice(2) while the connection and the sink are pipes */
  int splice_ok; /* splice(2) works between this connection and the sinks (until EINVAL) */
  int splicing;  /* the last payload was spliced: read frame headers alone, to splice the next */
  pthread_t thread;
  int destroyed; /* inClose() ran: the thread is joined, the ring freed */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  napi_threadsafe_function tsfn;
} inbound_t;

/* Set by quiesce(): no thread posts any more; posts in flight. */
extern int g_quiesced;
extern int g_posting;

void set_nonblock(int fd);
void drain(int efd);
void kick(int efd);
int wait2(int fd, short ev, int wake, int closed);
int writev_all(int fd, struct iovec *iov, int n, int wake, int closed, const uint64_t *gen, uint64_t expect);
void put_u32(uint8_t *p, uint32_t v);
uint32_t get_u32(const uint8_t *p);
void put_u64(uint8_t *p, uint64_t v);
void put_head(uint8_t *h, uint8_t type, uint8_t stream, uint64_t offset, uint32_t payload);
void post(napi_threadsafe_function tsfn, const char *kind, double a, double b, const uint8_t *data, size_t len, const char *text);
void post_at(napi_threadsafe_function tsfn, uint64_t gen, const char *kind, double a, double b, const uint8_t *data, size_t len, const char *text);
napi_threadsafe_function make_tsfn(napi_env env, napi_value cb, const char *name);
wire_t *wire_new(int fd);
void wire_ref(wire_t *w);
void wire_unref(wire_t *w);
int wire_pending(wire_t *w);
int wire_flush_q(wire_t *w, int blocking, int wake2, const uint64_t *gen, uint64_t expect);
void wire_send(wire_t *w, const uint8_t *frame, size_t len);
void wire_flush_nb(wire_t *w);
int wire_write_frames(wire_t *w, struct iovec *iov, int n, int wake2, const uint64_t *gen, uint64_t expect);
void *out_main(void *arg);
int64_t now_ms(void);
void send_ack(inbound_t *in, int stream);
void maybe_end(inbound_t *in, int i);
void in_garbled(inbound_t *in, const char *msg);
void *in_main(void *arg);
int wait1(int fd, short ev, int wake);
void *out_splice_main(void *arg);
int in_wait_conn(inbound_t *in);
int in_read_exact(inbound_t *in, uint8_t *b, uint32_t n);
void *in_splice_main(void *arg);
napi_value js_out_close(napi_env env, napi_callback_info info);
napi_value js_in_close(napi_env env, napi_callback_info info);
void out_finalize(napi_env env, void *data, void *hint);
void in_finalize(napi_env env, void *data, void *hint);
void in_release_reply(inbound_t *in);
void in_drop_conn(inbound_t *in);
void in_close_dead(inbound_t *in);

#endif
