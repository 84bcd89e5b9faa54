// The finished items of a sharded, resumable evaluation: one small JSON file per item (a batch of
// the eval loss, a video pair, a sample), written atomically by the rank that owns the item, so a
// re-run skips what is done and a crash never leaves half a result. Every file carries a
// fingerprint of the run's inputs (config, checkpoint, data); a file from other inputs is not
// reused, so a stale folder can never leak old numbers into a new report.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { removeStaleTemps, writeFileAtomic } from '@opensora-ts/kernels';

interface StoredItem<T> {
  fingerprint: string;
  key: string;
  value: T;
}

const KEY = /^[A-Za-z0-9._-]+$/;

export class ItemStore<T> {
  readonly dir: string;
  private readonly touched = new Set<string>();

  constructor(
    dir: string,
    readonly fingerprint: string,
  ) {
    this.dir = resolve(dir);
    mkdirSync(this.dir, { recursive: true });
  }

  private pathOf(key: string): string {
    if (!KEY.test(key)) throw new Error(`item store ${this.dir}: key '${key}' may hold only letters, digits, '.', '_' and '-'.`);
    return join(this.dir, `${key}.json`);
  }

  /**
   * The stored value of `key`, or undefined when absent, unreadable or from other inputs. `tag`
   * identifies the item's own inputs (e.g. its two video files), so changing one item's input
   * recomputes that item alone.
   */
  get(key: string, tag = ''): T | undefined {
    const path = this.pathOf(key);
    if (!existsSync(path)) return undefined;
    try {
      const j = JSON.parse(readFileSync(path, 'utf8')) as StoredItem<T>;
      if (j.fingerprint !== this.fingerprint + tag || j.key !== key) return undefined;
      this.touched.add(key);
      return j.value;
    } catch {
      return undefined; // a file that does not parse is computed again and overwritten
    }
  }

  /** Stores `value` under `key` (temporary name, then rename), with the item's `tag` (see get). */
  put(key: string, value: T, tag = ''): void {
    const item: StoredItem<T> = { fingerprint: this.fingerprint + tag, key, value };
    writeFileAtomic(this.pathOf(key), `${JSON.stringify(item)}\n`);
    this.touched.add(key);
  }

  /** Keys of files in the folder (any fingerprint). */
  keys(): string[] {
    // Temporary files of a write in progress (or of a killed one) start with '.'.
    return readdirSync(this.dir).filter((f) => f.endsWith('.json') && !f.startsWith('.')).map((f) => f.slice(0, -5));
  }

  /**
   * Deletes the files this store wrote or read (each rank removes its own items once the merged
   * result is written), then the folder if nothing else is left in it.
   */
  removeOwn(): void {
    for (const k of this.touched) rmSync(this.pathOf(k), { force: true });
    this.touched.clear();
    // Half-written items of killed processes (a temporary name, never renamed) would keep the folder.
    removeStaleTemps(this.dir);
    try {
      rmdirSync(this.dir);
    } catch {
      // not empty (another rank's items, or files of other inputs) or already gone
    }
  }
}
