// Profiles one VAE training step (forward + backward of the L1 reconstruction) per kernel:
//   node --conditions=source --import tsx apps/train/scripts/profile-vae-step.ts FRAMES BATCH ['{"encoder": ...}']
// (the JSON overrides the tiny preset, as a train config's `model` keys do).
import { initRuntime, tf } from '@opensora-ts/kernels';
import { ChunkedVideoCodec, createVae } from '@opensora-ts/vae';
const [T = '1', B = '8', cfgJson] = process.argv.slice(2);
await initRuntime({ backend: 'native' });
const overrides = cfgJson ? JSON.parse(cfgJson) : {};
const vae = createVae('tiny', overrides);
const codec = new ChunkedVideoCodec(vae);
const x = tf.randomUniform([Number(B), 3, Number(T), 64, 64], -1, 1) as tf.Tensor5D;
const step = () => {
  const r = tf.variableGrads(() => {
    const z = codec.encode(x, { samplePosterior: false });
    const y = codec.decode(z);
    return tf.abs(tf.sub(y, x)).sum() as tf.Scalar;
  });
  tf.dispose([r.value, ...Object.values(r.grads)]);
};
step();
const t0 = performance.now();
step();
console.log(`step ${(performance.now() - t0).toFixed(0)} ms`);
const info = await tf.profile(step);
const by = new Map<string, { ms: number; n: number }>();
for (const k of info.kernels) {
  const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
  const e = by.get(k.name) ?? { ms: 0, n: 0 };
  e.ms += ms; e.n++; by.set(k.name, e);
}
const rows = [...by.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 25);
for (const [n, e] of rows) console.log(`${n.padEnd(28)} ${e.ms.toFixed(0).padStart(7)} ms  x${e.n}`);
