// A cache of precomputed latents and text embeddings: sharded safetensors keyed by sample id.
// Entries are buffered and flushed as a new shard (`shard-00000.safetensors`, tensor names
// "<sample id>/<name>"), then `index.json` (sample id -> shard) is rewritten. Both writes go to a
// temporary name and are renamed, so a crash leaves the previous complete state. The app that fills
// the cache calls the VAE and the text encoder; this package only stores plain tensors.
// Several processes (the ranks of a sharded cache fill or of data-parallel training) share one
// folder by each naming itself a `writer`: a writer's shards and index are its own
// (`shard-<writer>-00000.safetensors`, `index-<writer>.json`), and every reader sees the entries
// of all the index files in the folder.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SafetensorsFile, writeSafetensors, type HostTensor, type WritableTensor } from '@opensora-ts/kernels';

export interface CacheEntry {
  [name: string]: WritableTensor;
}

interface CacheIndex {
  version: 1;
  shards: string[];
  /** sample id -> shard number */
  entries: Record<string, number>;
}

export interface LatentCacheOptions {
  /** Flush a shard once this many bytes are buffered (default 256 MiB). */
  shardBytes?: number;
  /**
   * This process's name among several that write the folder at once (e.g. `rank-3`): letters,
   * digits, '-' and '_'. Default: the single writer (index.json, shard-00000.safetensors ...).
   */
  writer?: string;
}

const WRITER = /^[A-Za-z0-9_-]+$/;

function readIndex(file: string): CacheIndex {
  let idx: CacheIndex;
  try {
    idx = JSON.parse(readFileSync(file, 'utf8')) as CacheIndex;
  } catch (e) {
    throw new Error(`${file}: not readable as a latent cache index (${(e as Error).message}); delete the folder to rebuild it.`);
  }
  if (idx.version !== 1 || !Array.isArray(idx.shards)) throw new Error(`${file}: not a latent cache index (version 1); delete the folder to rebuild it.`);
  return idx;
}

export class LatentCache {
  readonly dir: string;
  /** This writer's own index (what flush extends). */
  private index: CacheIndex;
  /** Every flushed entry of every writer: sample id -> shard file name. */
  private lookup = new Map<string, string>();
  private pending = new Map<string, CacheEntry>();
  private pendingBytes = 0;
  private readonly shardBytes: number;
  private readonly writer: string | undefined;
  private readonly indexName: string;
  private open = new Map<string, SafetensorsFile>();

  constructor(dir: string, opts: LatentCacheOptions = {}) {
    this.dir = resolve(dir);
    this.shardBytes = opts.shardBytes ?? 256 * 2 ** 20;
    if (opts.writer !== undefined && !WRITER.test(opts.writer)) {
      throw new Error(`latent cache writer '${opts.writer}': use letters, digits, '-' and '_' only (e.g. rank-3).`);
    }
    this.writer = opts.writer;
    this.indexName = opts.writer === undefined ? 'index.json' : `index-${opts.writer}.json`;
    mkdirSync(this.dir, { recursive: true });
    const file = join(this.dir, this.indexName);
    this.index = existsSync(file) ? readIndex(file) : { version: 1, shards: [], entries: {} };
    this.refresh();
  }

  /**
   * Re-reads every writer's index: entries other processes flushed since this one opened the
   * folder become readable.
   */
  refresh(): void {
    const lookup = new Map<string, string>();
    const files = readdirSync(this.dir).filter((f) => f === 'index.json' || /^index-[A-Za-z0-9_-]+\.json$/.test(f)).sort();
    for (const f of files) {
      const idx = f === this.indexName ? this.index : readIndex(join(this.dir, f));
      for (const [id, n] of Object.entries(idx.entries)) if (!lookup.has(id)) lookup.set(id, idx.shards[n]!);
    }
    // This writer's own entries win over another's copy of the same sample.
    for (const [id, n] of Object.entries(this.index.entries)) lookup.set(id, this.index.shards[n]!);
    this.lookup = lookup;
  }

  /** Sample ids stored (flushed by any writer, or pending here). */
  ids(): string[] {
    return [...new Set([...this.lookup.keys(), ...this.pending.keys()])];
  }

  has(id: string): boolean {
    return this.pending.has(id) || this.lookup.has(id);
  }

  /** Buffers an entry; a later put of the same id replaces it. Flushes when the buffer is full. */
  put(id: string, entry: CacheEntry): void {
    if (id.includes('/')) throw new Error(`latent cache id '${id}' must not contain '/'.`);
    for (const [name, t] of Object.entries(entry)) {
      if (name.includes('/')) throw new Error(`latent cache entry '${id}': tensor name '${name}' must not contain '/'.`);
      this.pendingBytes += t.data.byteLength;
    }
    this.pending.set(id, entry);
    if (this.pendingBytes >= this.shardBytes) this.flush();
  }

  /** Writes buffered entries as one new shard and updates the index (both atomically). */
  flush(): void {
    if (this.pending.size === 0) return;
    const n = this.index.shards.length;
    const name = `shard-${this.writer === undefined ? '' : `${this.writer}-`}${String(n).padStart(5, '0')}.safetensors`;
    const tensors = new Map<string, WritableTensor>();
    for (const [id, entry] of this.pending) for (const [k, t] of Object.entries(entry)) tensors.set(`${id}/${k}`, t);
    writeSafetensors(join(this.dir, name), tensors, { format: 'opensora-ts latent cache' });
    const next: CacheIndex = { version: 1, shards: [...this.index.shards, name], entries: { ...this.index.entries } };
    for (const id of this.pending.keys()) next.entries[id] = n;
    const tmp = join(this.dir, `${this.indexName}.tmp-${process.pid}`);
    writeFileSync(tmp, JSON.stringify(next));
    renameSync(tmp, join(this.dir, this.indexName));
    this.index = next;
    for (const id of this.pending.keys()) this.lookup.set(id, name);
    this.pending.clear();
    this.pendingBytes = 0;
  }

  /** The tensors of a sample, or undefined when it is not cached. */
  get(id: string): Map<string, HostTensor> | undefined {
    const p = this.pending.get(id);
    if (p) {
      const out = new Map<string, HostTensor>();
      for (const [k, t] of Object.entries(p)) {
        const data = t.data instanceof BigInt64Array ? Int32Array.from(t.data, (v) => Number(v)) : t.data;
        const dtype = data instanceof Float32Array ? 'float32' : data instanceof Int32Array ? 'int32' : 'bool';
        out.set(k, { dtype, shape: [...t.shape], data, stored: t.dtype ?? 'F32' });
      }
      return out;
    }
    const shard = this.lookup.get(id);
    if (shard === undefined) return undefined;
    let f = this.open.get(shard);
    if (!f) {
      f = new SafetensorsFile(join(this.dir, shard));
      this.open.set(shard, f);
    }
    const prefix = `${id}/`;
    const out = new Map<string, HostTensor>();
    for (const k of f.keys()) if (k.startsWith(prefix)) out.set(k.slice(prefix.length), f.read(k));
    return out;
  }

  /** Flushes and closes open shard files. */
  close(): void {
    this.flush();
    for (const f of this.open.values()) f.close();
    this.open.clear();
  }
}
