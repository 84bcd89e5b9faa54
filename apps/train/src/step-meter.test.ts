import { describe, expect, it } from 'vitest';
import { StepMeter } from './step-meter.js';

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

});
