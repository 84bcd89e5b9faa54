// connectC10d in one process (world size 1, rank 0 hosting the store): every collective through
// real c10d, the by-id path on the torch backend, and the errors a caller can cause. Across
// processes: @opensora-ts/kernels' src/distributed/c10d.test.ts.
import * as tf from '@tensorflow/tfjs';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { loadAddon } from './addon.js';
import { c10dFeatures, connectC10d } from './process-group.js';
import { torchAvailable } from './testing.js';

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

const base = { rank: 0, worldSize: 1, masterAddr: '127.0.0.1', timeoutMs: 60_000, lostAfterMs: 5_000 };

describe.skipIf(!torchAvailable())('connectC10d (world size 1)', () => {
  it('says which process groups the build has; this machine builds Gloo (libgloo-dev)', () => {
    const f = c10dFeatures();
    expect(f.reason).toBeUndefined();
    expect(f.gloo, 'built without Gloo: apt-get install libgloo-dev and rebuild the addon').toBe(true);
    expect(f.nccl).toBe(loadAddon().info().cuda && f.nccl);
  });

  it('every collective on host arrays, then close', async () => {
    const pg = await connectC10d({ ...base, masterPort: await freePort(), backend: 'gloo' });
    expect(pg.backend).toBe('gloo');
    const a = Float32Array.of(1, -2, 3);
    await pg.allReduce(a, 'avg');
    expect([...a]).toEqual([1, -2, 3]);
    const b = Int32Array.of(4, 5);
    await pg.broadcast(b, 0);
    expect([...b]).toEqual([4, 5]);
    const g = await pg.allGather(Uint8Array.of(9, 8));
    expect(g.map((x) => [...x])).toEqual([[9, 8]]);
    expect(g[0]).toBeInstanceOf(Uint8Array);
    await pg.allReduce(new Float32Array(0), 'sum');
    await pg.barrier();
    await expect(pg.allReduce(a, 'prod' as never)).rejects.toThrow(/reduce op 'prod': expected sum, avg, max or min/);
    await expect(pg.broadcast(b, 1)).rejects.toThrow(/root 1 is not a rank/);
    await expect(pg.allReduce(Int32Array.of(1) as never, 'sum')).rejects.toThrow(/expected a Float32Array/);
    await pg.close();
    await expect(pg.barrier()).rejects.toThrow(/is not open/);
  });

  it('reduces a torch tensor by id, leaving the input as it was', async () => {
    const prev = tf.getBackend();
    await tf.setBackend('torch');
    try {
      const pg = await connectC10d({ ...base, masterPort: await freePort(), backend: 'gloo' });
      const x = tf.tensor2d([[1, 2], [3, 4]]);
      const before = tf.memory().numTensors;
      const y = await pg.allReduceTensor(x, 'max');
      expect(tf.memory().numTensors).toBe(before + 1);
      expect(y.shape).toEqual([2, 2]);
      expect(await y.array()).toEqual([[1, 2], [3, 4]]);
      expect(await x.array()).toEqual([[1, 2], [3, 4]]);
      await expect(pg.allReduceTensor(tf.scalar(1, 'int32'), 'sum')).rejects.toThrow(/float32/);
      tf.dispose([x, y]);
      await pg.close();
    } finally {
      await tf.setBackend(prev);
    }
  });

  it('names what is wrong with the request', async () => {
    const port = await freePort();
    await expect(connectC10d({ ...base, masterPort: port, backend: 'mpi' as never })).rejects.toThrow(/backend 'mpi': expected gloo or nccl/);
    await expect(connectC10d({ ...base, rank: 1, masterPort: port, backend: 'gloo' })).rejects.toThrow(/rank 1 of world size 1/);
    if (!c10dFeatures().nccl) await expect(connectC10d({ ...base, masterPort: port, backend: 'nccl' })).rejects.toThrow(/built without NCCL/);
  });

  it('a port already taken: the error names the store address and the fix', async () => {
    const s = createServer();
    const port = await new Promise<number>((res) => s.listen(0, () => res((s.address() as { port: number }).port)));
    try {
      await expect(connectC10d({ ...base, masterPort: port, backend: 'gloo' })).rejects.toThrow(new RegExp(`could not host the store at 127.0.0.1:${port}.*pick another MASTER_PORT`));
    } finally {
      s.close();
    }
  });
});
