// Every copied reference case (test/fixtures/<case>) through this package's parity runner, at
// the case's own tolerance, every intermediate included.
import { readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { compareParityOutput, initRuntime, loadParityCase, tf } from '@opensora-ts/kernels';
import { parityRunners } from './parity.js';

const root = fileURLToPath(new URL('../test/fixtures/', import.meta.url));
const cases = readdirSync(root).filter((d) => existsSync(join(root, d, 'case.json'))).sort();

beforeAll(async () => {
  await initRuntime({ announce: false });
});

describe('stdit3_forward parity', () => {
  it('has the five shared cases', () => {
    expect(cases).toEqual(['stdit3-i2v', 'stdit3-i2v-loop', 'stdit3-odd', 'stdit3-t2v', 'stdit3-xmask']);
  });

  for (const name of cases) {
    it(name, async () => {
      const c = loadParityCase(join(root, name));
      const before = tf.memory().numTensors;
      const out = await parityRunners[c.json.kind]!(c);
      expect(tf.memory().numTensors).toBe(before);
      const report = compareParityOutput(c, out);
      const misses = report.comparisons.filter((x) => !x.pass).map((x) => `${x.name}: rel_l2 ${x.relL2} max_abs ${x.maxAbs} ${x.detail ?? ''}`);
      expect(misses).toEqual([]);
      expect(report.comparisons.length).toBe(c.expected.size);
    });
  }
});
