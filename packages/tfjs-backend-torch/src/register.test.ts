// deviceWanted: what OPENSORA_DEVICE / {device} resolve to, under torchrun included (a pure
// function of its arguments and the environment: runs without a GPU).
import { afterEach, describe, expect, it } from 'vitest';
import { deviceWanted } from './register.js';

const saved = { LOCAL_RANK: process.env.LOCAL_RANK, OPENSORA_DEVICE: process.env.OPENSORA_DEVICE };
afterEach(() => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

describe('deviceWanted', () => {
  it('cpu by default; cuda[:N] as written without a launcher', () => {
    delete process.env.LOCAL_RANK;
    delete process.env.OPENSORA_DEVICE;
    expect(deviceWanted({}, 0)).toBe('cpu');
    expect(deviceWanted({ device: 'cuda' }, 8)).toBe('cuda');
    expect(deviceWanted({ device: 'cuda:3' }, 8)).toBe('cuda:3');
  });

  it("under torchrun, plain 'cuda' is the rank's GPU (LOCAL_RANK modulo the GPUs); cuda:N is kept", () => {
    process.env.LOCAL_RANK = '3';
    expect(deviceWanted({ device: 'cuda' }, 8)).toBe('cuda:3');
    expect(deviceWanted({ device: 'cuda' }, 2)).toBe('cuda:1');
    expect(deviceWanted({ device: 'cuda' }, 1)).toBe('cuda'); // one GPU: every rank on it
    expect(deviceWanted({ device: 'cuda:0' }, 8)).toBe('cuda:0');
    expect(deviceWanted({ device: 'cpu' }, 8)).toBe('cpu');
    process.env.LOCAL_RANK = '0';
    expect(deviceWanted({ device: 'cuda' }, 8)).toBe('cuda');
  });

  it('refuses a malformed device by name', () => {
    expect(() => deviceWanted({ device: 'gpu' }, 0)).toThrow(/OPENSORA_DEVICE='gpu': expected cpu, cuda or cuda:N/);
  });
});
