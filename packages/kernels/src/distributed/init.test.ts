import { describe, expect, it } from 'vitest';
import { initProcessGroup, wrapC10d } from './init.js';
import type { C10dGroup } from './init.js';
import { LaunchEnvError } from './launch-env.js';

describe('initProcessGroup', () => {
  it('no launcher: the world of one', async () => {
    const pg = await initProcessGroup({ env: {} });
    expect({ rank: pg.rank, worldSize: pg.worldSize, localRank: pg.localRank, backend: pg.backend }).toEqual({ rank: 0, worldSize: 1, localRank: 0, backend: 'single' });
    const data = Float32Array.of(1, 2);
    await pg.allReduce(data, 'avg');
    expect([...data]).toEqual([1, 2]);
    expect(await pg.allGatherJson({ a: 1 })).toEqual([{ a: 1 }]);
    await pg.close();
    await expect(pg.barrier()).rejects.toThrow(/after close/);
  });

  it('torchrun at world size 1: the world of one, nothing connected', async () => {
    const pg = await initProcessGroup({ env: { RANK: '0', WORLD_SIZE: '1', LOCAL_RANK: '0', MASTER_ADDR: '127.0.0.1', MASTER_PORT: '1' } });
    expect(pg.backend).toBe('single');
  });

  it('a bad launch variable is refused by name before anything loads', async () => {
    await expect(initProcessGroup({ env: { RANK: '2', WORLD_SIZE: '2', LOCAL_RANK: '0', MASTER_ADDR: 'h', MASTER_PORT: '1' } })).rejects.toBeInstanceOf(LaunchEnvError);
  });

  it('refuses a bad option', async () => {
    await expect(initProcessGroup({ env: {}, backend: 'mpi' as never })).rejects.toThrow(/backend 'mpi': expected auto, gloo or nccl/);
    await expect(initProcessGroup({ env: {}, timeoutMs: 0 })).rejects.toThrow(/timeoutMs=0/);
  });
});

describe('wrapC10d: a lost rank', () => {
  const raw = (lostAfterCalls: number): C10dGroup & { calls: number } => {
    const g = {
      calls: 0,
      backend: 'gloo' as const,
      allReduce: async () => {},
      broadcast: async () => {},
      allGather: async <T,>(d: T) => [d],
      barrier: async () => {},
      close: async () => {},
      lost() {
        g.calls++;
        return g.calls > lostAfterCalls ? { rank: 1, message: 'process group: rank 1 of 2 is lost (test)' } : undefined;
      },
    };
    return g as never;
  };

  it('a callback gets the error once, from the once-a-second poll', async () => {
    const seen: string[] = [];
    const g = raw(1);
    const pg = wrapC10d(g, { rank: 0, worldSize: 2, localRank: 0 }, { onLost: (e) => seen.push(e.message) });
    await new Promise((r) => setTimeout(r, 3300));
    expect(seen).toEqual(['process group: rank 1 of 2 is lost (test)']);
    expect(g.calls).toBe(2); // polling stops once found
    await pg.close();
  });

  it("'throw' does not poll; close() stops polling", async () => {
    const g = raw(0);
    const pg = wrapC10d(g, { rank: 0, worldSize: 2, localRank: 0 }, { onLost: 'throw' });
    const seen: string[] = [];
    const h = raw(100);
    const pg2 = wrapC10d(h, { rank: 0, worldSize: 2, localRank: 0 }, { onLost: (e) => seen.push(e.message) });
    await pg2.close();
    await new Promise((r) => setTimeout(r, 1300));
    expect(g.calls).toBe(0);
    expect(h.calls).toBe(0);
    await pg.close();
  });
});
