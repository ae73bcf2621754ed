import type { BackoffPolicy } from '../core/backoff.js';

/**
 * Every timing of the shim, in one place: what each one bounds. The local side and the holder
 * take them from here; their state machines receive the clock and the random source from their
 * drivers, so tests can run them at any speed.
 */

/**
 * Local side, a signal (SIGINT/TERM/HUP) arrived: the longest it waits for the signal frame to be
 * written to ssh before it exits 128 + n anyway (a stuck ssh must not hold the shim).
 */
export const SIGNAL_FORWARD_GRACE_MS = 500;

/**
 * Local side, before the session is confirmed: the n-th failed first connection waits n times
 * this before the next try (none after the holder said the session exists: it resumes at once).
 */
export const FIRST_RETRY_STEP_MS = 250;

/** Local side: connections tried before the session is confirmed, then ssh's failure stands. */
export const FIRST_CONNECT_TRIES = 4;

/**
 * Local side, after the session was confirmed: the wait before each reconnect (full jitter, see
 * core/backoff.ts; the first retry is at once). Never past the resume window's deadline.
 */
export const RECONNECT_BACKOFF: BackoffPolicy = { baseMs: 500, capMs: 10_000 };

/**
 * Local side: ssh's keepalive unless the user set ServerAlive* (seconds, count): a silent dead
 * channel is noticed within about interval × count and the shim reconnects.
 */
export const SERVER_ALIVE_INTERVAL_S = 5;
export const SERVER_ALIVE_COUNT_MAX = 3;

/**
 * Holder, the resume window has passed with nobody attached: how long the command has between
 * SIGTERM and SIGKILL.
 */
export const COMMAND_KILL_GRACE_MS = 2000;

/** Holder: how long a socket connection may take to present an acceptable hello (default). */
export const HANDSHAKE_TIMEOUT_MS = 30_000;

/** --serve: the local side sends its hello at once; one that has not arrived by then never will. */
export const HELLO_TIMEOUT_MS = 60_000;

/** --serve: how often a non-blocking channel with no hello byte yet is read again. */
export const HELLO_POLL_MS = 5;

/** Both sides: a delivered byte is acknowledged at most this long after its delivery. */
export const ACK_DELAY_MS = 20;

/**
 * Room beyond the peer's replay buffer (what it may send unacknowledged) where a connection is
 * read into a ring: frame headers, and frames that wait for JavaScript.
 */
export const RECEIVE_SLACK = 2 * 1024 * 1024;
