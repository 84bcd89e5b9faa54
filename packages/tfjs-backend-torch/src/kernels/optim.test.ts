// The multi-tensor optimizer kernels called by name (as @opensora-ts/kernels' optim calls them):
// the composite's numbers on cpu, in place only where nothing else holds a tensor, and libtorch's
// memory flat over steps. The kernels package's optim suite compares them bit for bit with the
// composites on this backend.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { TORCH_BACKEND_NAME, type TorchBackend } from '../backend.js';
import { expectClose, rand, runOn, torchAvailable } from '../testing.js';

const SHAPES = [[3, 5], [7], []];
const ADAMW = { beta1: 0.9, oneMinusBeta1: 0.1, beta2: 0.999, oneMinusBeta2: 1 - 0.999, decay: 1 - 1e-3 * 0.01, hasDecay: 1, sqrtBc2: Math.sqrt(1 - 0.999), eps: 1e-8, stepSize: 1e-3 / (1 - 0.9), gradScale: 0.5, hasGradScale: 1 };

function adamwComposite(p: tf.Tensor, g: tf.Tensor, m: tf.Tensor, v: tf.Tensor): tf.Tensor[] {
  const gs = tf.mul(g, ADAMW.gradScale);
  const m1 = tf.add(tf.mul(m, ADAMW.beta1), tf.mul(gs, ADAMW.oneMinusBeta1));
  const v1 = tf.add(tf.mul(v, ADAMW.beta2), tf.mul(tf.square(gs), ADAMW.oneMinusBeta2));
  const denom = tf.add(tf.div(tf.sqrt(v1), ADAMW.sqrtBc2), ADAMW.eps);
  return [tf.sub(tf.mul(p, ADAMW.decay), tf.mul(tf.div(m1, denom), ADAMW.stepSize)), m1, v1];
}

function run(name: string, inputs: tf.Tensor[], attrs: Record<string, number>): tf.Tensor[] {
  const out = tf.engine().runKernel(name, inputs as unknown as tf.NamedTensorMap, attrs as unknown as tf.NamedAttrMap) as tf.Tensor | tf.Tensor[];
  return Array.isArray(out) ? out : [out];
}

describe.skipIf(!torchAvailable())('optimizer kernels on torch', () => {
  const group = (seed: number, abs = false) => () => SHAPES.map((s, i) => (abs ? tf.abs(rand(s, seed * 10 + i)) : rand(s, seed * 10 + i)));
  const [p, g, m, v] = [group(1), group(2), group(3), group(4, true)];

  it('OpensoraAdamW, OpensoraEmaUpdate and OpensoraGlobalNorm give the composites on cpu', () => {
    const n = SHAPES.length;
    const fused = runOn('torch', () => [
      ...run('OpensoraAdamW', [...p(), ...g(), ...m(), ...v()], { ...ADAMW, n, inPlace: 0 }),
      ...run('OpensoraEmaUpdate', [...p(), ...g()], { n, decay: 0.99, oneMinusDecay: 0.01, inPlace: 0 }),
      ...run('OpensoraGlobalNorm', g(), {}),
    ]);
    const ref = runOn('cpu', () => {
      const [ps, gs, ms, vs] = [p(), g(), m(), v()];
      const upd = ps.map((x, i) => adamwComposite(x, gs[i]!, ms[i]!, vs[i]!));
      return [...upd.map((u) => u[0]!), ...upd.map((u) => u[1]!), ...upd.map((u) => u[2]!), ...ps.map((x, i) => tf.add(tf.mul(x, 0.99), tf.mul(gs[i]!, 0.01))), tf.sqrt(tf.addN(gs.map((x) => tf.sum(tf.square(x)))))];
    });
    expect(fused.map((f) => f.shape)).toEqual(ref.map((r) => r.shape));
    fused.forEach((f, i) => expectClose(f.values, ref[i]!.values, 1e-6, 1e-7, `output ${i}`));
  });

  it('updates in place only tensors nothing else holds; libtorch memory stays flat over steps', () => {
    const prev = tf.getBackend();
    tf.setBackend(TORCH_BACKEND_NAME);
    try {
      const ema = p().map((t) => tf.variable(t, false));
      const params = g();
      const held = ema[0]!.clone(); // a second tensor over ema[0]'s data: that one must not be written over
      const before = Array.from(held.dataSync());
      const step = () => {
        const outs = run('OpensoraEmaUpdate', [...ema, ...params], { n: ema.length, decay: 0.5, oneMinusDecay: 0.5, inPlace: 1 });
        ema.forEach((e, i) => e.assign(outs[i]!));
        tf.dispose(outs);
      };
      step();
      const backend = tf.backend() as TorchBackend;
      const bytes = backend.memory().numBytesInTorch;
      const tensors = tf.memory().numTensors;
      for (let i = 0; i < 5; i++) step();
      expect(Array.from(held.dataSync())).toEqual(before);
      expect(backend.memory().numBytesInTorch).toBe(bytes);
      expect(tf.memory().numTensors).toBe(tensors);
      // After 6 halvings toward the params, ema is params + (ema0 - params) / 64.
      const want = before.map((x, i) => (params[0]!.dataSync()[i]! + (x - params[0]!.dataSync()[i]!) / 64));
      expectClose(ema[0]!.dataSync(), want, 1e-5, 1e-6, 'ema[0]');
      tf.dispose([...ema, ...params, held]);
    } finally {
      tf.setBackend(prev);
    }
  });
});
