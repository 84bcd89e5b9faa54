// A cache of precomputed latents and text embeddings: sharded safetensors keyed by sample id.
// Entries are buffered and flushed as a new shard (`shard-00000.safetensors`, tensor names
// "<sample id>/<name>"), then `index.json` (sample id -> shard) is rewritten. Both writes go to a
// temporary name and are renamed, so a crash leaves the previous complete state. The app that fills
// the cache calls the VAE and the text encoder; this package only stores plain tensors.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
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
}

export class LatentCache {
  readonly dir: string;
  private index: CacheIndex;
  private pending = new Map<string, CacheEntry>();
  private pendingBytes = 0;
  private readonly shardBytes: number;
  private open = new Map<number, SafetensorsFile>();

  constructor(dir: string, opts: LatentCacheOptions = {}) {
    this.dir = resolve(dir);
    this.shardBytes = opts.shardBytes ?? 256 * 2 ** 20;
    mkdirSync(this.dir, { recursive: true });
    const file = join(this.dir, 'index.json');
    if (existsSync(file)) {
      const idx = JSON.parse(readFileSync(file, 'utf8')) as CacheIndex;
      if (idx.version !== 1 || !Array.isArray(idx.shards)) throw new Error(`${file}: not a latent cache index (version 1); delete the folder to rebuild it.`);
      this.index = idx;
    } else this.index = { version: 1, shards: [], entries: {} };
  }

  /** Sample ids stored (flushed or pending). */
  ids(): string[] {
    return [...new Set([...Object.keys(this.index.entries), ...this.pending.keys()])];
  }

  has(id: string): boolean {
    return this.pending.has(id) || id in this.index.entries;
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
    const name = `shard-${String(n).padStart(5, '0')}.safetensors`;
    const tensors = new Map<string, WritableTensor>();
    for (const [id, entry] of this.pending) for (const [k, t] of Object.entries(entry)) tensors.set(`${id}/${k}`, t);
    writeSafetensors(join(this.dir, name), tensors, { format: 'opensora-ts latent cache' });
    const next: CacheIndex = { version: 1, shards: [...this.index.shards, name], entries: { ...this.index.entries } };
    for (const id of this.pending.keys()) next.entries[id] = n;
    const tmp = join(this.dir, `index.json.tmp-${process.pid}`);
    writeFileSync(tmp, JSON.stringify(next));
    renameSync(tmp, join(this.dir, 'index.json'));
    this.index = next;
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
    const shard = this.index.entries[id];
    if (shard === undefined) return undefined;
    let f = this.open.get(shard);
    if (!f) {
      f = new SafetensorsFile(join(this.dir, this.index.shards[shard]!));
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
