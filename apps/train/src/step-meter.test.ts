import { initRuntime, tf } from '@opensora-ts/kernels';
import { describe, expect, it } from 'vitest';
import { addGrads, StepMeter } from './step-meter.js';

describe('StepMeter', () => {
  it('averages the micro-step losses, sums the samples and starts over after each step', () => {
    const m = new StepMeter();
    m.addMicro(2, 4);
    m.addMicro(4, 3);
    expect(m.micro).toBe(2);
    expect(m.stepSamples).toBe(7);
    const rec = m.finish({ step: 5, epoch: 1, lr: 1e-3, grad_norm: 0.5 }, { nll_loss: 3 });
    expect(rec).toMatchObject({ type: 'step', step: 5, epoch: 1, loss: 3, lr: 1e-3, grad_norm: 0.5, samples: 7, nll_loss: 3 });
    expect(rec.samples_per_sec).toBeGreaterThan(0);
    expect([m.micro, m.stepSamples]).toEqual([0, 0]);
  });

  it('addGrads sums per key and frees what it consumed', async () => {
    await initRuntime({ announce: false });
    const a = new Map([['w', tf.tensor([1, 2])]]);
    const b = new Map([['w', tf.tensor([10, 20])], ['v', tf.tensor([5])]]);
    const before = tf.memory().numTensors;
    const sum = addGrads(addGrads(null, a), b);
    expect(Array.from(sum.get('w')!.dataSync())).toEqual([11, 22]);
    expect(Array.from(sum.get('v')!.dataSync())).toEqual([5]);
    expect(tf.memory().numTensors).toBe(before - 1);
    tf.dispose([...sum.values()]);
  });
});
