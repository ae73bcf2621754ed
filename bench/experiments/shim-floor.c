/*
 * The least a process in the shim's place can cost: stdin to stdout by splice(2), which moves
 * page references and copies nothing into user memory (one end must be a pipe; where neither is,
 * read(2) and write(2) through one MiB instead). No framing, no replay copy, no acknowledgements:
 * a floor, not a shim. Built and placed where the shim's two processes sit by
 * `npm run bench -- experiments/shim-floor` (needs a C compiler). At exit it appends
 * "<FLOOR_ROLE> <CPU seconds>" (user + system, getrusage) to the file named by FLOOR_CPU.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#define CHUNK (1 << 20)

/* Waits until fd has `events` (for a descriptor left non-blocking by whoever made it). */
static void wait_for(int fd, short events) {
  struct pollfd p = {fd, events, 0};
  while (poll(&p, 1, -1) < 0 && errno == EINTR) {
  }
}

static int copy_all(void) {
  char *buf = malloc(CHUNK);
  for (;;) {
    ssize_t n = read(0, buf, CHUNK);
    if (n == 0) return 0;
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        wait_for(0, POLLIN);
        continue;
      }
      return 1;
    }
    for (ssize_t at = 0; at < n;) {
      ssize_t w = write(1, buf + at, (size_t)(n - at));
      if (w > 0) at += w;
      else if (w < 0 && errno == EAGAIN) wait_for(1, POLLOUT);
      else if (!(w < 0 && errno == EINTR)) return 1;
    }
  }
}

/*
 * Non-blocking on both sides: a splice(2) that waits for its source holds the pipe's lock, so the
 * pipe's reader (ssh) would block on that lock, and with it ssh's whole event loop, while rsync
 * waits for what ssh should be delivering to it.
 */
static int splice_all(void) {
  int fl = fcntl(0, F_GETFL);
  if (fl >= 0) fcntl(0, F_SETFL, fl | O_NONBLOCK);
  for (;;) {
    ssize_t n = splice(0, NULL, 1, NULL, CHUNK, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n > 0) continue;
    if (n == 0) return 0;
    if (errno == EINTR) continue;
    if (errno == EAGAIN) {
      /* Either side may be the one not ready: wait for both to be. */
      wait_for(0, POLLIN);
      wait_for(1, POLLOUT);
      continue;
    }
    if (errno == EINVAL) return copy_all(); /* neither end a pipe */
    return 1;
  }
}

int main(void) {
  signal(SIGPIPE, SIG_IGN); /* a reader gone at the end is an error to return, not a death */
  int rc = splice_all();
  close(1);
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  const char *log = getenv("FLOOR_CPU"), *role = getenv("FLOOR_ROLE");
  if (log && role) {
    FILE *f = fopen(log, "a");
    if (f) {
      fprintf(f, "%s %.3f\n", role,
              (double)u.ru_utime.tv_sec + (double)u.ru_utime.tv_usec / 1e6 +
                  (double)u.ru_stime.tv_sec + (double)u.ru_stime.tv_usec / 1e6);
      fclose(f);
    }
  }
  return rc;
}
