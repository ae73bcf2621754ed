import { constants } from 'node:os';

const SIGNALS = constants.signals as Record<string, number>;

/** The status a shell reports for a command killed by `signal` ("SIGTERM"): 128 + its number. */
export function signalExitStatus(signal: string): number {
  return 128 + (SIGNALS[signal] ?? 0);
}

/** "SIGTERM" for 15, as this platform numbers signals. */
export function signalName(n: number): string | undefined {
  for (const [name, value] of Object.entries(SIGNALS)) if (value === n) return name;
  return undefined;
}
