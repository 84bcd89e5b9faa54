// Reading and upcasting tensors in a worker thread, so that a caller computing on one block of a
// large model (T5-XXL: 24 blocks of ~0.8 GB in float32) has the next block read meanwhile. The
// worker runs the same decodeFloats as the main thread, from its source text (it imports nothing of
// ours), and hands each result back without a copy. Where a worker cannot start, the same reads run
// on the calling thread.
import { closeSync, openSync, readSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { decodeFloats, makeHalfTable } from '../float-decode.js';
import type { SafetensorsDtype } from '../safetensors.js';

/** Stored dtypes the background reader decodes (the floats model weights come in). */
export const BACKGROUND_DTYPES: ReadonlySet<SafetensorsDtype> = new Set(['F32', 'BF16', 'F16']);

export interface BackgroundItem {
  file: string;
  offset: number;
  length: number;
  dtype: SafetensorsDtype;
}

export interface DecodedFloats {
  data: Float32Array;
  finite: boolean;
}

/** Reads `length` bytes at `offset` of `file` into a fresh ArrayBuffer (also runs in the worker). */
function readRun(fs: { openSync: typeof openSync; readSync: typeof readSync; closeSync: typeof closeSync }, file: string, offset: number, length: number): ArrayBuffer {
  const buffer = new ArrayBuffer(length);
  const bytes = new Uint8Array(buffer);
  const fd = fs.openSync(file, 'r');
  try {
    let done = 0;
    while (done < length) {
      const got = fs.readSync(fd, bytes, done, Math.min(length - done, 1 << 30), offset + done);
      if (got === 0) throw new Error(`${file}: unexpected end of file at byte ${offset + done} (wanted ${length} bytes at ${offset}); the file is truncated.`);
      done += got;
    }
  } finally {
    fs.closeSync(fd);
  }
  return buffer;
}

function decodeItem(fs: Parameters<typeof readRun>[0], item: BackgroundItem, half: () => Float32Array): DecodedFloats {
  const size = item.dtype === 'F32' ? 4 : 2;
  return decodeFloats(item.dtype, readRun(fs, item.file, item.offset, item.length), item.length / size, item.dtype === 'F16' ? half() : null);
}

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const fs = require('node:fs');
const makeHalfTable = (${makeHalfTable.toString()});
const decodeFloats = (${decodeFloats.toString()});
const readRun = (${readRun.toString()});
let table = null;
const half = () => (table = table || makeHalfTable());
parentPort.on('message', ({ id, items }) => {
  try {
    const out = items.map((item) => {
      const size = item.dtype === 'F32' ? 4 : 2;
      return decodeFloats(item.dtype, readRun(fs, item.file, item.offset, item.length), item.length / size, item.dtype === 'F16' ? half() : null);
    });
    parentPort.postMessage({ id, out }, out.map((d) => d.data.buffer));
  } catch (err) {
    parentPort.postMessage({ id, error: String((err && err.message) || err) });
  }
});
`;

type Pending = { resolve: (out: DecodedFloats[]) => void; reject: (err: Error) => void };

export class BackgroundReader {
  private worker: Worker | null = null;
  private failed = false;
  private nextId = 0;
  private readonly pending = new Map<number, Pending>();
  private table: Float32Array | null = null;

  /** Whether reads run in a worker thread (false once a worker could not start: reads then run inline). */
  get inWorker(): boolean {
    return this.start() !== null;
  }

  private start(): Worker | null {
    if (this.worker || this.failed) return this.worker;
    try {
      const w = new Worker(WORKER_SOURCE, { eval: true });
      w.on('message', (m: { id: number; out?: DecodedFloats[]; error?: string }) => {
        const p = this.pending.get(m.id);
        this.pending.delete(m.id);
        if (this.pending.size === 0) w.unref();
        if (m.error !== undefined) p?.reject(new Error(m.error));
        else p?.resolve(m.out!);
      });
      w.on('error', (err) => this.fail(err));
      w.unref();
      this.worker = w;
    } catch {
      this.failed = true;
    }
    return this.worker;
  }

  private fail(err: Error): void {
    this.failed = true;
    this.worker = null;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  /** The items' float32 values, read and decoded off the calling thread where possible. */
  read(items: readonly BackgroundItem[]): Promise<DecodedFloats[]> {
    const w = this.start();
    if (!w) return Promise.resolve(items.map((item) => decodeItem({ openSync, readSync, closeSync }, item, () => (this.table ??= makeHalfTable()))));
    const id = this.nextId++;
    return new Promise<DecodedFloats[]>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      w.ref();
      w.postMessage({ id, items });
    });
  }

  close(): void {
    void this.worker?.terminate();
    this.worker = null;
    for (const p of this.pending.values()) p.reject(new Error('the background reader was closed'));
    this.pending.clear();
  }
}
