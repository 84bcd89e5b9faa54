import { describe, expect, it } from 'vitest';
import { initRuntime, tf } from '@opensora-ts/kernels';
import { runFixture } from '../test/parity-helpers.js';
import { DiagonalGaussian } from './posterior.js';

describe('DiagonalGaussian', () => {
  it('passes the vae-posterior fixture (clamped logvar, std, sample, normalization)', async () => {
    const report = await runFixture('vae-posterior');
    expect(report.comparisons.length).toBe(5);
    expect(report.pass).toBe(true);
  });

  it('clamps logvar to [-30, 20], samples reproducibly from a seed and gives the KL per sample', async () => {
    await initRuntime({ announce: false });
    const before = tf.memory().numTensors;
    const moments = tf.tensor([0, 1, 50, -50, 0.5, 0, 0, 0], [2, 4]);
    const p = new DiagonalGaussian(moments);
    expect(Array.from(p.logvar.dataSync())).toEqual([20, -30, 0, 0]);
    const a = p.sample(null, 7);
    const b = p.sample(null, 7);
    expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
    // Seed 0 too (tfjs alone treats a 0 seed as none and draws from Math.random).
    const z0 = p.sample(null, 0);
    const z1 = p.sample(null, 0);
    expect(Array.from(z0.dataSync())).toEqual(Array.from(z1.dataSync()));
    expect(Array.from(z0.dataSync())).not.toEqual(Array.from(a.dataSync()));
    tf.dispose([z0, z1]);
    // row 1: mean (0.5, 0), logvar 0 -> KL = 0.5 * 0.25
    const kl = p.kl();
    expect(kl.dataSync()[1]).toBeCloseTo(0.125, 6);
    const wrong = tf.zeros([3]);
    expect(() => p.sample(wrong)).toThrow(/noise has shape/);
    tf.dispose([a, b, moments, kl, wrong]);
    p.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
