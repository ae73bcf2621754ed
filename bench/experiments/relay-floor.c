/*
 * The relay's data path at its least, in C: what no relay written in any language can go below on
 * this machine. Built and run by `npm run bench -- experiments/relay-floor` (bench/relay.md,
 * "Floors"); needs a C compiler and OpenSSL's headers (Debian: gcc, libssl-dev).
 *
 *   relay-floor MIB MODE CHUNK
 *
 * A source process writes MIB MiB as AES-128-GCM packets of 32 KiB (+ a 16-byte tag) to loopback
 * TCP; this process reads them, and in MODE "cipher" decrypts each (checking its tag) and
 * encrypts it again under a second key, as a relay between two SSH connections does; in MODE
 * "copy" it only moves the bytes. It writes them to a sink process over loopback TCP. CHUNK 0
 * reads and writes one packet at a time (what a relay forwarding SSH packets one by one does);
 * CHUNK N > 0 reads up to N bytes at a time, works on every whole packet read, and writes them in
 * one call (the most batching a relay could do). The keys are set once; each packet only changes
 * the nonce (as SSH's AES-GCM does). Prints this process's CPU (user + system, from getrusage)
 * per GiB moved, from the first read to the last write: the source's and the sink's are not
 * counted.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAYLOAD 32768
#define TAG 16
#define PACKET (PAYLOAD + TAG)

static void die(const char *what) {
  perror(what);
  exit(1);
}

static int listen_loopback(int *port) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 1) ||
      getsockname(s, (struct sockaddr *)&a, &len))
    die("listen");
  *port = ntohs(a.sin_port);
  return s;
}

static int dial(int port) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof a)) die("connect");
  return s;
}

static void write_all(int fd, const uint8_t *b, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, b, n);
    if (w <= 0) die("write");
    b += w;
    n -= (size_t)w;
  }
}

/* Reads exactly n bytes: 0, or -1 at EOF before any. */
static int read_packet(int fd, uint8_t *b, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = read(fd, b + got, n - got);
    if (r == 0 && got == 0) return -1;
    if (r <= 0) die("read");
    got += (size_t)r;
  }
  return 0;
}

/* The 12-byte nonce of packet `seq`: a fixed part and a counter, as in RFC 5647. */
static void nonce(uint8_t iv[12], uint64_t seq) {
  memset(iv, 0x5a, 4);
  for (int i = 0; i < 8; i++) iv[4 + i] = (uint8_t)(seq >> (56 - 8 * i));
}

static EVP_CIPHER_CTX *gcm(const uint8_t key[16], int enc) {
  EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
  if (!c || !EVP_CipherInit_ex(c, EVP_aes_128_gcm(), NULL, key, NULL, enc)) die("EVP");
  return c;
}

static void seal(EVP_CIPHER_CTX *c, uint8_t *p, uint64_t seq) {
  uint8_t iv[12];
  int n;
  nonce(iv, seq);
  if (!EVP_CipherInit_ex(c, NULL, NULL, NULL, iv, 1) || !EVP_CipherUpdate(c, p, &n, p, PAYLOAD) ||
      !EVP_CipherFinal_ex(c, p + PAYLOAD, &n) ||
      !EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, TAG, p + PAYLOAD))
    die("encrypt");
}

static void open_packet(EVP_CIPHER_CTX *c, uint8_t *p, uint64_t seq) {
  uint8_t iv[12];
  int n;
  nonce(iv, seq);
  if (!EVP_CipherInit_ex(c, NULL, NULL, NULL, iv, 0) || !EVP_CipherUpdate(c, p, &n, p, PAYLOAD) ||
      !EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, TAG, p + PAYLOAD) ||
      EVP_CipherFinal_ex(c, p + PAYLOAD, &n) <= 0) {
    fprintf(stderr, "relay-floor: packet %llu fails its tag\n", (unsigned long long)seq);
    exit(1);
  }
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: relay-floor MIB copy|cipher CHUNK\n");
    return 2;
  }
  uint64_t packets = (uint64_t)atoll(argv[1]) * (1 << 20) / PAYLOAD;
  int cipher = strcmp(argv[2], "cipher") == 0;
  size_t chunk = (size_t)atoll(argv[3]);
  if (packets == 0 || (!cipher && strcmp(argv[2], "copy") != 0) || (chunk && chunk < PACKET)) {
    fprintf(stderr, "relay-floor: bad arguments\n");
    return 2;
  }
  const uint8_t in_key[16] = {1}, out_key[16] = {2};
  int in_port, out_port;
  int in_l = listen_loopback(&in_port), out_l = listen_loopback(&out_port);
  if (fork() == 0) { /* the source: sealed packets under in_key */
    int s = dial(in_port);
    EVP_CIPHER_CTX *c = gcm(in_key, 1);
    uint8_t *p = malloc(PACKET);
    for (uint64_t seq = 0; seq < packets; seq++) {
      memset(p, (int)(seq & 0xff), PAYLOAD);
      if (cipher) seal(c, p, seq);
      write_all(s, p, PACKET);
    }
    _exit(0);
  }
  if (fork() == 0) { /* the sink */
    int s = dial(out_port);
    uint8_t *b = malloc(1 << 20);
    while (read(s, b, 1 << 20) > 0) {
    }
    _exit(0);
  }
  int in = accept(in_l, NULL, NULL), out = accept(out_l, NULL, NULL);
  int one = 1;
  setsockopt(out, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  EVP_CIPHER_CTX *dec = gcm(in_key, 0), *enc = gcm(out_key, 1);
  uint8_t *buf = malloc(chunk ? chunk + PACKET : PACKET);
  uint64_t seq = 0;
  struct rusage r0, r1;
  getrusage(RUSAGE_SELF, &r0);
  if (!chunk) {
    while (read_packet(in, buf, PACKET) == 0) {
      if (cipher) {
        open_packet(dec, buf, seq);
        seal(enc, buf, seq);
      }
      write_all(out, buf, PACKET);
      seq++;
    }
  } else {
    size_t have = 0;
    for (;;) {
      ssize_t r = read(in, buf + have, chunk - have);
      if (r < 0) die("read");
      if (r == 0) break;
      have += (size_t)r;
      size_t whole = have / PACKET * PACKET;
      for (size_t at = 0; cipher && at < whole; at += PACKET) {
        open_packet(dec, buf + at, seq + at / PACKET);
        seal(enc, buf + at, seq + at / PACKET);
      }
      if (whole) {
        write_all(out, buf, whole);
        seq += whole / PACKET;
        memmove(buf, buf + whole, have - whole);
        have -= whole;
      }
    }
  }
  getrusage(RUSAGE_SELF, &r1);
  close(out);
  while (wait(NULL) > 0) {
  }
  if (seq != packets) {
    fprintf(stderr, "relay-floor: %llu packets of %llu\n", (unsigned long long)seq,
            (unsigned long long)packets);
    return 1;
  }
  double user = (double)(r1.ru_utime.tv_sec - r0.ru_utime.tv_sec) +
                (double)(r1.ru_utime.tv_usec - r0.ru_utime.tv_usec) / 1e6;
  double sys = (double)(r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) +
               (double)(r1.ru_stime.tv_usec - r0.ru_stime.tv_usec) / 1e6;
  double gib = (double)seq * PAYLOAD / (1 << 30);
  printf("%.4f %.4f\n", user / gib, sys / gib);
  return 0;
}
