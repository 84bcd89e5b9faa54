// oneDNN 2.6's sgemm corrupts the heap when a signal lands on its thread mid-call (the addon now
// blocks signals around it). A child process runs the models' GEMM shapes and the fused
// attention (whose block GEMMs are oneDNN's too) on oneDNN under
// --cpu-prof, whose SIGPROF hit them every few hundred microseconds: before the fix every such run
// aborted within seconds ("corrupted size vs. prev_size", "unaligned tcache chunk").
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { nativeAvailable } from '../testing.js';
import { loadAddon } from '../addon.js';

const require = createRequire(import.meta.url);
const index = fileURLToPath(new URL('../index.ts', import.meta.url));
const withDnnl = nativeAvailable() && loadAddon().info().dnnl;

const script = `
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { registerNativeBackend } from ${JSON.stringify(index)};
registerNativeBackend({ threads: 1 });
await tf.setBackend('native');
const t0 = Date.now();
let products = 0;
let attentions = 0;
while (Date.now() - t0 < 4000) {
  for (const [m, k, n] of [[64, 384, 1152], [256, 384, 384], [64, 1536, 384], [7, 384, 1152]]) {
    tf.tidy(() => {
      const a = tf.randomNormal([m, k]);
      const b = tf.randomNormal([n, k]);
      tf.matMul(a, b, false, true).dataSync();
      tf.matMul(tf.randomNormal([m, n]), b).dataSync();
      tf.matMul(tf.randomNormal([m, n]), a, true, false).dataSync();
    });
    products += 3;
  }
  // The fused attention's block GEMMs (oneDNN, signals blocked once per call) at the mid model's shape.
  tf.tidy(() => {
    const [q, k, v, dy] = [0, 1, 2, 3].map(() => tf.randomNormal([2, 8, 320, 48]));
    const mask = tf.ones([1, 320]);
    const attrs = { scale: 0.144, causal: 0 };
    tf.engine().runKernel('OpensoraAttention', { q, k, v, mask }, attrs).dataSync();
    for (const g of tf.engine().runKernel('OpensoraAttentionGrad', { dy, q, k, v, mask }, attrs)) g.dataSync();
  });
  attentions += 1;
}
console.log('products', products, 'attentions', attentions);
`;

describe.skipIf(!withDnnl)('oneDNN GEMMs under signals (skipped: addon built without oneDNN)', () => {
  it('a loop of GEMMs and fused attentions on oneDNN under --cpu-prof (SIGPROF every 100 us) runs to the end', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gemm-signals-'));
    try {
      const r = spawnSync(
        process.execPath,
        ['--cpu-prof', '--cpu-prof-interval', '100', '--cpu-prof-dir', dir, '--conditions=source', '--import', require.resolve('tsx'), '--input-type=module', '-e', script],
        { encoding: 'utf8', cwd: fileURLToPath(new URL('..', import.meta.url)), env: { ...process.env, OPENSORA_NATIVE_GEMM: 'dnnl', OPENSORA_THREADS: '1' }, timeout: 60_000 },
      );
      expect(r.stderr + r.stdout, `exit ${r.status} signal ${r.signal}`).toMatch(/products \d+ attentions [1-9]/);
      expect(r.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);
});
