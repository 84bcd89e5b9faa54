import { describe, expect, it } from 'vitest';
import { initProcessGroup } from './init.js';
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
