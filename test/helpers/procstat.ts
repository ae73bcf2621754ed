import { readFileSync } from 'node:fs';

/**
 * The fields of /proc/<pid>/stat after "pid (comm) ", so index 0 is state, 1 ppid, 11 utime,
 * 12 stime, 13 cutime, 14 cstime, 19 starttime. comm may contain spaces or ')', hence the split
 * at the last ')'. Undefined when the process is gone.
 */
export function statFields(pid: number): string[] | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
}

/** Resident set size of `pid` in KiB (VmRSS in /proc/<pid>/status); undefined once it is gone. */
export function rssKiB(pid: number): number | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const m = /^VmRSS:\s+(\d+) kB/m.exec(text);
  return m ? Number(m[1]) : undefined;
}
