/**
 * The window phase of `npm run bench -- abuse`: an authenticated client writes raw CHANNEL_DATA
 * toward a registered device whose side does not read, ignoring the window the relay grants, and
 * the relay's memory is watched. A relay that buffers data beyond the window grows by everything
 * pushed; burrow's disconnects the peer after at most a window's worth, so `bytesPushed` is what
 * the attacker got onto the wire before that and the RSS stays near the baseline.
 */
import { rssKiB } from '../../test/helpers/procstat.js';
import { Scope } from '../../test/helpers/scope.js';
import { sampleRss, startWindowWorld, windowAttack } from '../../test/helpers/window-attack.js';

export interface WindowAttackResult {
  /** Channel data the attacker wrote before the relay disconnected it (or `bytes`). */
  readonly bytesPushed: number;
  readonly rssBaselineMiB: number;
  /** Peak VmRSS of the relay process while the attack ran (sampled every 20 ms). */
  readonly rssPeakMiB: number;
  /** VmRSS once the attacker is gone. */
  readonly rssAfterMiB: number;
  readonly peerClosed: boolean;
  /** Wall time of the attack, from login to the relay's disconnect. */
  readonly ms: number;
}

/**
 * Starts its own `burrow relay` process, OpenSSH device and non-reading service, attacks with
 * up to `bytes` in 32 KiB − 1 byte packets (not a divisor of the window), and stops everything
 * it started before returning.
 */
export async function measureWindowAttack(opts: {
  bytes: number;
  log: (line: string) => void;
}): Promise<WindowAttackResult> {
  const scope = new Scope();
  try {
    const w = await startWindowWorld(scope);
    const pid = w.relay.pid;
    const baseline = rssKiB(pid) ?? 0;
    opts.log(
      `window: relay pid ${pid}, RSS ${mib(baseline)} MiB; pushing up to ${mib(opts.bytes / 1024)} MiB`,
    );
    const sampler = sampleRss(pid);
    const started = performance.now();
    const result = await windowAttack({
      port: w.port,
      privateKey: w.opPrivateKey,
      bytes: opts.bytes,
      packetBytes: 32 * 1024 - 1,
    });
    const ms = Math.round(performance.now() - started);
    const peak = sampler.stop();
    const after = rssKiB(pid) ?? 0;
    opts.log(
      `window: pushed ${mib(result.bytesPushed / 1024)} MiB in ${ms} ms, peer closed: ` +
        `${result.peerClosed}; RSS peak ${mib(peak)} MiB, after ${mib(after)} MiB`,
    );
    return {
      bytesPushed: result.bytesPushed,
      rssBaselineMiB: mib(baseline),
      rssPeakMiB: mib(peak),
      rssAfterMiB: mib(after),
      peerClosed: result.peerClosed,
      ms,
    };
  } finally {
    await scope.close();
  }
}

/** KiB to MiB, one decimal. */
function mib(kib: number): number {
  return Math.round((kib / 1024) * 10) / 10;
}
