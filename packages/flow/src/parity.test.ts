import { describe, expect, it } from 'vitest';
import { compareParityOutput, loadParityCase, tf } from '@opensora-ts/kernels';
import { parityRunners } from './parity.js';

const FIXTURES = new URL('../test/fixtures/', import.meta.url).pathname;

describe('parity on the copied reference fixtures', () => {
  for (const name of ['rflow-schedule', 'rflow-loss']) {
    it(name, async () => {
      const c = loadParityCase(`${FIXTURES}${name}`);
      const run = parityRunners[c.json.kind];
      expect(run, `no runner for kind ${c.json.kind}`).toBeDefined();
      const before = tf.memory().numTensors;
      const report = compareParityOutput(c, await run!(c));
      expect(tf.memory().numTensors).toBe(before);
      const misses = report.comparisons.filter((x) => !x.pass).map((x) => `${x.name}: rel ${x.relL2} abs ${x.maxAbs} ${x.detail ?? ''}`);
      expect(misses).toEqual([]);
      expect(report.comparisons.length).toBe(c.expected.size);
    });
  }

  it('the rflow_sample fixtures carry what runRflowSampleCase produces', () => {
    // The sample cases need the tiny STDiT3 (wired in tools/parity); here we pin their format.
    for (const name of ['rflow-sample', 'rflow-sample-osc']) {
      const c = loadParityCase(`${FIXTURES}${name}`);
      expect(c.json.kind).toBe('rflow_sample');
      for (const k of c.expected.keys()) expect(['z_final', 'timesteps', 'velocity_step0']).toContain(k);
      expect(c.weightsPath && c.weightsPath.endsWith('stdit3-t2v/weights.safetensors')).toBe(true);
    }
  });
});
