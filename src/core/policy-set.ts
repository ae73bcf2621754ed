import {
  authorize,
  mayListen,
  mayOpen,
  type PolicyEntry,
  type PolicyLineError,
  parseAuthorizedKeys,
} from './policy/index.js';

export type AuthorizeVerdict = ReturnType<typeof authorize>;

/**
 * An immutable, indexed snapshot of one authorized_keys file. Lookups cost one map access however
 * many keys the file holds (fleets have one line per device). Reloading builds a new snapshot and
 * swaps it in; connections consult whichever snapshot is current at each request.
 */
export class PolicySet {
  readonly #byBlob = new Map<string, PolicyEntry[]>();
  readonly size: number;

  private constructor(entries: readonly PolicyEntry[]) {
    for (const e of entries) {
      const k = e.keyBlob.toString('base64');
      const list = this.#byBlob.get(k);
      if (list) list.push(e);
      else this.#byBlob.set(k, [e]);
    }
    this.size = entries.length;
  }

  static parse(text: string, file: string): { set: PolicySet; errors: PolicyLineError[] } {
    const { entries, errors } = parseAuthorizedKeys(text, file);
    return { set: new PolicySet(entries), errors };
  }

  static empty(): PolicySet {
    return new PolicySet([]);
  }

  authorize(keyBlob: Buffer, sourceIp: string, now: number): AuthorizeVerdict {
    return authorize(this.#byBlob.get(keyBlob.toString('base64')) ?? [], keyBlob, sourceIp, now);
  }

  mayListen(entry: PolicyEntry, name: string, port: number): boolean {
    return mayListen(entry, name, port);
  }

  mayOpen(entry: PolicyEntry, name: string, port: number): boolean {
    return mayOpen(entry, name, port);
  }
}
