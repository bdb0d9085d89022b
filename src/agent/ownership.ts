// Which IPVS services this agent owns, kept in a file so ownership survives restarts: the
// kernel has no place to tag a service, and the agent must never touch one it did not create
// (kube-proxy's, an operator's ipvsadm rules). Written atomically (temp file + rename).
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export class OwnershipFile {
  readonly path: string;

  constructor(stateDir: string) {
    this.path = join(stateDir, 'ipvs-owned.json');
  }

  /** Service key strings (src/ipvs/keys.ts); empty when the file does not exist yet. */
  read(): Set<string> {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return new Set();
      throw e;
    }
    const data = JSON.parse(text) as { owned?: unknown };
    if (!Array.isArray(data.owned) || !data.owned.every((k) => typeof k === 'string')) {
      throw new Error(`${this.path}: expected {"owned": [service keys]}`);
    }
    return new Set(data.owned);
  }

  write(owned: ReadonlySet<string>): void {
    mkdirSync(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.tmp`;
    writeFileSync(tmp, `${JSON.stringify({ owned: [...owned].sort() }, null, 1)}\n`);
    renameSync(tmp, this.path);
  }
}
