import { setFlagsFromString } from 'node:v8';

/**
 * V8 settings for a process that moves bulk bytes through Node streams (relay, agent, otssh,
 * shim). Imported for its effect, first, by each executable's entry, so it runs before any other
 * module loads or allocates.
 *
 * Every socket read and every outgoing SSH packet is a new ArrayBuffer, about 2 GiB of them per
 * GiB a relay forwards. With V8's default concurrent ArrayBuffer sweeping, the backing stores of
 * the buffers a scavenge found dead are freed, and their bytes taken off V8's external-memory
 * count, by a background task; until it runs, the count keeps growing and crosses the
 * external-memory limit, and V8 starts a full mark-compact. Measured on the relay through
 * `ssh -J` (4 × 512 MiB, Node 20): 156 to 170 mark-compacts with it, 9 to 18 with sweeping done
 * on the main thread right after each scavenge, and relay CPU per GiB 4.4 against 2.9 in one run
 * (bench/relay.md).
 *
 * `v8.setFlagsFromString` after start is fine for this flag: V8 reads it each time a sweep is
 * requested. The other GC work (marking, scavenging, page sweeping) stays concurrent.
 */
setFlagsFromString('--no-concurrent-array-buffer-sweeping');
