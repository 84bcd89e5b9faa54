// The T5 text-encoder cases copied into test/fixtures (the shared `t5-encoder` case: spiece.model
// + safetensors; `t5-encoder-bin-shards`: spiece.model + pytorch_model.bin shards) through this
// package's t5_encoder runner, at each case's tolerance: ids and mask exact, hidden states close.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { compareParityOutput, initRuntime, loadParityCase, tf } from '@opensora-ts/kernels';
import { parityRunners } from './parity.js';

const root = fileURLToPath(new URL('../test/fixtures/', import.meta.url));
const cases = readdirSync(root).filter((d) => d.startsWith('t5-encoder') && existsSync(join(root, d, 'case.json'))).sort();

beforeAll(async () => {
  await initRuntime({ announce: false });
});

describe('t5_encoder parity', () => {
  it('has the shared case and the .bin-shards case', () => {
    expect(cases).toEqual(['t5-encoder', 't5-encoder-bin-shards']);
  });

  for (const name of cases) {
    it(name, async () => {
      const c = loadParityCase(join(root, name));
      const before = tf.memory().numTensors;
      const report = compareParityOutput(c, await parityRunners.t5_encoder!(c));
      expect(tf.memory().numTensors).toBe(before);
      const misses = report.comparisons.filter((x) => !x.pass).map((x) => `${x.name}: rel_l2 ${x.relL2} max_abs ${x.maxAbs} ${x.detail ?? ''}`);
      expect(misses).toEqual([]);
      // Every expected tensor, plus the exact id and mask comparisons.
      expect(report.comparisons.length).toBe(c.expected.size + 2);
    });
  }
});
