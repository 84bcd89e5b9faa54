import { describe, expect, it } from 'vitest';
import { tf } from '../tf.js';
import { AdamW } from './adamw.js';
import { clipGradNorm } from './clip-grad.js';
import { lrSchedule } from './lr-schedule.js';

describe('AdamW', () => {
  it('follows torch.optim.AdamW step by step (decoupled decay, bias correction, eps after sqrt)', () => {
    const p = tf.variable(tf.tensor1d([1, -2]));
    const opt = new AdamW([['w', p]], { lr: 0.1, eps: 1e-8, weightDecay: 0.01 });
    const ref = [1, -2];
    const m = [0, 0];
    const v = [0, 0];
    const gs = [[0.5, -1], [0.25, 2]];
    for (let t = 1; t <= 2; t++) {
      const g = gs[t - 1]!;
      const grad = tf.tensor1d(g);
      opt.apply(new Map([['w', grad]]));
      grad.dispose();
      for (let i = 0; i < 2; i++) {
        ref[i]! *= 1 - 0.1 * 0.01;
        m[i] = 0.9 * m[i]! + 0.1 * g[i]!;
        v[i] = 0.999 * v[i]! + 0.001 * g[i]! ** 2;
        const denom = Math.sqrt(v[i]!) / Math.sqrt(1 - 0.999 ** t) + 1e-8;
        ref[i]! -= (0.1 / (1 - 0.9 ** t)) * (m[i]! / denom);
      }
      const got = Array.from(p.dataSync());
      got.forEach((x, i) => expect(x).toBeCloseTo(ref[i]!, 6));
    }
    // Saved moments restore exactly into a fresh optimizer.
    const s = opt.state();
    const q = tf.variable(tf.tensor1d([0, 0]));
    const opt2 = new AdamW([['w', q]], { lr: 0.1 });
    const host = (d: Float32Array) => ({ dtype: 'float32' as const, shape: [2], data: d, stored: 'F32' as const });
    opt2.load(s.step, new Map([['w', { m: host(s.moments.get('w')!.m), v: host(s.moments.get('w')!.v) }]]));
    expect(opt2.step).toBe(2);
    expect(Array.from(opt2.state().moments.get('w')!.v)).toEqual(Array.from(s.moments.get('w')!.v));
    expect(() => opt2.load(2, new Map())).toThrow(/no moments for 1 parameter/);
    opt.dispose();
    opt2.dispose();
    tf.dispose([p, q]);
  });

  it('clips the global gradient norm like clip_grad_norm_', () => {
    const g = new Map([['a', tf.tensor1d([3, 0])], ['b', tf.tensor1d([0, 4])]]);
    const { grads, norm } = clipGradNorm(g, 1);
    expect(norm).toBeCloseTo(5, 6);
    expect(Array.from(grads.get('a')!.dataSync())[0]).toBeCloseTo(3 / (5 + 1e-6), 6);
    const un = clipGradNorm(g, 10);
    expect(Array.from(un.grads.get('b')!.dataSync())).toEqual([0, 4]);
    tf.dispose([...g.values(), ...grads.values(), ...un.grads.values()]);
  });
});

describe('lr schedules', () => {
  it('constant, the reference LinearWarmupLR, and cosine with warmup', () => {
    expect(lrSchedule({ lr: 1e-4, warmupSteps: null, cosine: false })(500)).toBe(1e-4);
    const w = lrSchedule({ lr: 5e-5, warmupSteps: 1000, cosine: false, initialLr: 1e-6 });
    expect(w(0)).toBeCloseTo(1e-6 + (1 / 1001) * (5e-5 - 1e-6), 15);
    expect(w(999)).toBeCloseTo(1e-6 + (1000 / 1001) * (5e-5 - 1e-6), 15);
    expect(w(1000)).toBe(5e-5);
    const c = lrSchedule({ lr: 1e-4, warmupSteps: 10, cosine: true, totalSteps: 110 });
    expect(c(0)).toBeCloseTo(1e-5, 12);
    expect(c(10)).toBeCloseTo(1e-4, 12);
    expect(c(60)).toBeCloseTo(5e-5, 12);
    expect(c(110)).toBeCloseTo(0, 12);
    expect(() => lrSchedule({ lr: 1, warmupSteps: 0, cosine: true })).toThrow(/total step count/);
  });
});
