import { describe, expect, it } from 'vitest';
import { launchEnv, LaunchEnvError } from './launch-env.js';

const torchrun = { RANK: '1', WORLD_SIZE: '4', LOCAL_RANK: '1', LOCAL_WORLD_SIZE: '2', MASTER_ADDR: '10.0.0.1', MASTER_PORT: '29511' };

function errorOf(env: Record<string, string | undefined>): LaunchEnvError {
  try {
    launchEnv(env);
  } catch (err) {
    expect(err).toBeInstanceOf(LaunchEnvError);
    return err as LaunchEnvError;
  }
  throw new Error(`launchEnv accepted ${JSON.stringify(env)}`);
}

describe('launchEnv', () => {
  it('no launcher: undefined', () => {
    expect(launchEnv({})).toBeUndefined();
    expect(launchEnv({ MASTER_ADDR: 'x' })).toBeUndefined();
  });

  it("reads torchrun's variables", () => {
    expect(launchEnv(torchrun)).toEqual({ rank: 1, worldSize: 4, localRank: 1, localWorldSize: 2, masterAddr: '10.0.0.1', masterPort: 29511 });
  });

  it('world size 1 needs no master address', () => {
    expect(launchEnv({ RANK: '0', WORLD_SIZE: '1' })).toEqual({ rank: 0, worldSize: 1, localRank: 0, localWorldSize: 1, masterAddr: '127.0.0.1', masterPort: 29500 });
  });

  it('LOCAL_WORLD_SIZE defaults to the world size (one machine)', () => {
    const { LOCAL_WORLD_SIZE: _, ...rest } = torchrun;
    expect(launchEnv(rest)?.localWorldSize).toBe(4);
  });

  const bad: [string, Record<string, string | undefined>, RegExp][] = [
    ['RANK', { ...torchrun, RANK: 'one' }, /RANK='one': expected an integer >= 0/],
    ['RANK', { ...torchrun, RANK: '-1' }, /RANK='-1'/],
    ['RANK', { ...torchrun, RANK: '4' }, /RANK=4 is not below WORLD_SIZE=4/],
    ['RANK', { ...torchrun, RANK: undefined }, /RANK is not set but WORLD_SIZE=4/],
    ['WORLD_SIZE', { ...torchrun, WORLD_SIZE: '0' }, /WORLD_SIZE='0': expected an integer >= 1/],
    ['WORLD_SIZE', { ...torchrun, WORLD_SIZE: '2.5' }, /WORLD_SIZE='2.5'/],
    ['WORLD_SIZE', { ...torchrun, WORLD_SIZE: undefined }, /WORLD_SIZE is not set but RANK=1/],
    ['LOCAL_RANK', { ...torchrun, LOCAL_RANK: undefined }, /LOCAL_RANK is not set/],
    ['LOCAL_RANK', { ...torchrun, LOCAL_RANK: '2' }, /LOCAL_RANK=2 is not below LOCAL_WORLD_SIZE=2/],
    ['LOCAL_RANK', { LOCAL_RANK: '0' }, /LOCAL_RANK='0' is set but RANK and WORLD_SIZE are not/],
    ['LOCAL_WORLD_SIZE', { ...torchrun, LOCAL_WORLD_SIZE: '8' }, /LOCAL_WORLD_SIZE=8 is more than WORLD_SIZE=4/],
    ['MASTER_ADDR', { ...torchrun, MASTER_ADDR: undefined }, /MASTER_ADDR is not set but WORLD_SIZE=4/],
    ['MASTER_ADDR', { ...torchrun, MASTER_ADDR: 'tcp://x' }, /MASTER_ADDR='tcp:\/\/x': expected a host name/],
    ['MASTER_PORT', { ...torchrun, MASTER_PORT: undefined }, /MASTER_PORT is not set/],
    ['MASTER_PORT', { ...torchrun, MASTER_PORT: '70000' }, /MASTER_PORT='70000': expected a TCP port/],
    ['MASTER_PORT', { ...torchrun, MASTER_PORT: 'http' }, /MASTER_PORT='http'/],
  ];
  for (const [variable, env, message] of bad) {
    it(`names ${variable}: ${message.source}`, () => {
      const err = errorOf(env);
      expect(err.variable).toBe(variable);
      expect(err.message).toMatch(message);
      expect(err.message).toMatch(/torchrun/);
    });
  }
});
