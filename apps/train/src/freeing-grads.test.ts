// The trainers' backward (kernels' freeingVariableGrads) against tf.variableGrads on the models they train: the
// STDiT3-tiny flow loss and a VAE piece (causal conv + 3D resnet block), same value and gradients bit for bit
// on every backend this run has among cpu and native, and the same tensor count afterwards.
import { TimeSampler, trainingLoss } from '@opensora-ts/flow';
import { freeingVariableGrads, SeededRandom, tf, type Tensor } from '@opensora-ts/kernels';
import { STDiT3, stdit3FlowModelFn, stdit3Preset } from '@opensora-ts/stdit';
import { CausalConv3dPlainAR, Resnet3DBlock } from '@opensora-ts/vae';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const BACKENDS = ['cpu', 'native'].filter((b) => tf.findBackendFactory(b) != null);

function bits(t: Tensor): number[] {
  return Array.from(new Uint32Array(new Float32Array(t.dataSync()).buffer));
}

/** Runs f through both backwards (f must be deterministic) and compares. */
function expectSame(f: () => tf.Scalar, vars: tf.Variable[]): void {
  const before = tf.memory().numTensors;
  const ref = tf.variableGrads(f, vars);
  const held = tf.memory().numTensors - before;
  const mid = tf.memory().numTensors;
  const got = freeingVariableGrads(f, vars);
  expect(tf.memory().numTensors - mid).toBe(held);
  expect(bits(got.value)).toEqual(bits(ref.value));
  const names = Object.keys(ref.grads);
  expect(Object.keys(got.grads).sort()).toEqual([...names].sort());
  expect(names.length).toBeGreaterThan(0);
  for (const k of names) expect(bits(got.grads[k]!), k).toEqual(bits(ref.grads[k]!));
  tf.dispose([ref.value, got.value, ...Object.values(ref.grads), ...Object.values(got.grads)] as Tensor[]);
  expect(tf.memory().numTensors).toBe(before);
}

describe('freeingVariableGrads on the trained models', () => {
  let prev = '';
  beforeAll(() => {
    prev = tf.getBackend();
  });
  afterAll(async () => {
    await tf.setBackend(prev);
  });

  it('runs on cpu at least', () => expect(BACKENDS).toContain('cpu'));

  for (const backend of BACKENDS) {
    it(`[${backend}] STDiT3-tiny flow training loss`, async () => {
      expect(await tf.setBackend(backend)).toBe(true);
      const model = new STDiT3(stdit3Preset('STDiT3-tiny'), { referenceInit: false, seed: 0 });
      model.eval(); // train mode drops captions and paths at random, so two runs of f would differ
      const vars = [...model.namedParameters()].filter(([, p]) => p.trainable && p.variable).map(([, p]) => p.variable!);
      const latent = [2, 16, 2, 8, 8];
      const x0 = tf.randomNormal(latent, 0, 1, 'float32', 1);
      const y = tf.randomNormal([2, 1, 12, 32], 0, 1, 'float32', 2);
      const mask = tf.tensor2d([1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0], [2, 12], 'int32');
      const fn = stdit3FlowModelFn(model);
      const timeSampler = new TimeSampler({ sampleMethod: 'logit-normal', useTimestepTransform: true, transformScale: 1.0, numTimesteps: 1000 });
      const meta = { height: 64, width: 64, numFrames: 5, fps: 24 };
      // A fresh generator per call: both backwards see the same timesteps and noise.
      const f = () => trainingLoss(fn, x0, { text: { y, mask }, meta, rng: new SeededRandom(5), timeSampler, numTimesteps: 1000 }).loss.mean() as tf.Scalar;
      // f is deterministic (else comparing the two backwards means nothing).
      const [a, b] = [f(), f()];
      expect(bits(a)).toEqual(bits(b));
      tf.dispose([a, b]);
      expectSame(f, vars);
      tf.dispose([x0, y, mask]);
      model.dispose();
    }, 120_000);

    it(`[${backend}] a VAE piece: causal conv into a 3D resnet block`, async () => {
      expect(await tf.setBackend(backend)).toBe(true);
      const conv = new CausalConv3dPlainAR(3, 8, 3);
      const block = new Resnet3DBlock(8, 16, 0, 4);
      const vars = [...conv.trainableVariables(), ...block.trainableVariables()];
      const x = tf.randomNormal([1, 3, 6, 6, 3], 0, 1, 'float32', 3); // channels last
      const f = () => tf.mean(tf.square(block.forward(conv.forward(x as tf.Tensor5D)))) as tf.Scalar;
      expectSame(f, vars);
      x.dispose();
      conv.dispose();
      block.dispose();
    }, 120_000);
  }
});
