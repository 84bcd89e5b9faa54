// Data-parallel gradient averaging: every rank computed gradients on its own share of the
// batch; after this call every rank holds their mean. Gradients are packed into buckets of
// about `bucketBytes` (one all-reduce each: a few large messages move far faster than one
// per parameter, and a bucket bounds the extra memory), in the map's order, which is the same
// on every rank because every rank builds the same model.
import { tf } from '../tf.js';
import type { Tensor } from '../tf.js';
import type { ProcessGroup } from './process-group.js';

export interface AverageGradientsOptions {
  /** Bytes per bucket (default 25 MiB, PyTorch DDP's default); a larger gradient is a bucket of its own. */
  bucketBytes?: number;
}

export const DEFAULT_BUCKET_BYTES = 25 * 1024 * 1024;

/**
 * The mean over ranks of each gradient, as new tensors under the same names (the caller
 * disposes the inputs and the outputs). At world size 1 it returns `grads` itself: no copy,
 * no new tensor. Every rank must pass the same names, shapes and order; a float32 gradient
 * is expected (others are refused by name).
 */
export async function averageGradients(pg: ProcessGroup, grads: Map<string, Tensor>, options: AverageGradientsOptions = {}): Promise<Map<string, Tensor>> {
  const bucketBytes = options.bucketBytes ?? DEFAULT_BUCKET_BYTES;
  if (!Number.isFinite(bucketBytes) || bucketBytes <= 0) throw new RangeError(`averageGradients: bucketBytes=${bucketBytes}: expected a positive number of bytes`);
  if (pg.worldSize === 1) return grads;
  for (const [name, g] of grads) {
    if (g.dtype !== 'float32') throw new TypeError(`averageGradients: gradient '${name}' is ${g.dtype}; expected float32`);
  }
  const buckets: [string, Tensor][][] = [];
  let current: [string, Tensor][] = [];
  let bytes = 0;
  for (const entry of grads) {
    const size = entry[1].size * 4;
    if (current.length > 0 && bytes + size > bucketBytes) {
      buckets.push(current);
      current = [];
      bytes = 0;
    }
    current.push(entry);
    bytes += size;
  }
  if (current.length > 0) buckets.push(current);

  const out = new Map<string, Tensor>();
  try {
    // The torch backend reduces where its tensors live (NCCL: on the GPU); host backends write each
    // gradient once into a bucket array, which costs fewer copies than flattening a tensor first.
    const reduceOnDevice = tf.getBackend() === 'torch' ? pg.allReduceTensor : undefined;
    for (const bucket of buckets) {
      if (reduceOnDevice) {
        // Device path: flatten, reduce where the tensor lives, split back.
        const flat = tf.tidy(() => tf.concat(bucket.map(([, g]) => g.reshape([-1])), 0));
        let reduced: Tensor;
        try {
          reduced = await reduceOnDevice.call(pg, flat, 'avg');
        } finally {
          flat.dispose();
        }
        const parts = tf.tidy(() => tf.split(reduced, bucket.map(([, g]) => g.size), 0).map((p, i) => p.reshape(bucket[i]![1].shape)));
        reduced.dispose();
        bucket.forEach(([name], i) => out.set(name, parts[i]!));
      } else {
        // Host path: one Float32Array per bucket.
        const total = bucket.reduce((n, [, g]) => n + g.size, 0);
        const host = new Float32Array(total);
        let at = 0;
        for (const [, g] of bucket) {
          host.set(g.dataSync() as Float32Array, at);
          at += g.size;
        }
        await pg.allReduce(host, 'avg');
        at = 0;
        for (const [name, g] of bucket) {
          out.set(name, tf.tensor(host.subarray(at, at + g.size), g.shape, 'float32'));
          at += g.size;
        }
      }
    }
  } catch (err) {
    for (const t of out.values()) t.dispose();
    throw err;
  }
  return out;
}

/**
 * One optimizer step's gradient averaging: averageGradients, the caller's `grads` disposed when
 * new tensors come back (at world size 1 the same map, nothing disposed), and how long it took
 * (the all-reduce time a trainer logs).
 */
export async function averageStepGradients(pg: ProcessGroup, grads: Map<string, Tensor>, options: AverageGradientsOptions = {}): Promise<{ grads: Map<string, Tensor>; ms: number }> {
  const t0 = performance.now();
  const avg = await averageGradients(pg, grads, options);
  if (avg !== grads) for (const g of grads.values()) g.dispose();
  return { grads: avg, ms: performance.now() - t0 };
}

/**
 * A number's mean over ranks (a micro-batch loss: with equal per-rank batch sizes, the mean over
 * the global batch). A non-finite value on any rank is non-finite on every rank, so every rank
 * can stop at the same step. At world size 1 the value itself.
 */
export async function meanOverRanks(pg: ProcessGroup, value: number): Promise<number> {
  if (pg.worldSize === 1) return value;
  const buf = Float32Array.of(value);
  await pg.allReduce(buf, 'avg');
  return buf[0]!;
}
