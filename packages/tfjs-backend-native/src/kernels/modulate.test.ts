// The native adaLN kernels (csrc/modulate.cc) against the composites of @opensora-ts/kernels
// run on tfjs's cpu backend (which has no kernel of these names): LayerNorm -> x (1 + scale) +
// shift and x + gate * y, forward and every gradient, at STDiT3's layouts (per-sample and
// per-frame rows) and a ragged channel count; then the multi-threaded pool gives the same values.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { gatedAddComposite, layerNormModulateComposite } from '../../../kernels/src/fused/modulate.js';
import { loadAddon } from '../addon.js';
import { expectClose, nativeAvailable, randn, runOn, sumAtol } from '../testing.js';

type Case = { x: number[]; p: number[]; groups: number };
const cases: Case[] = [
  { x: [2, 5, 64, 48], p: [2, 1, 1, 48], groups: 2 },
  { x: [1, 5, 64, 384], p: [1, 5, 1, 384], groups: 5 },
  { x: [3, 7, 13], p: [3, 1, 13], groups: 3 },
  { x: [40, 5], p: [5], groups: 1 },
];

const tensors = (c: Case, seed: number) => {
  const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
  const t = (s: number[], k: number, std = 1, mean = 0) => tf.tensor(randn(size(s), seed + k).map((v) => v * std + mean), s);
  return { x: t(c.x, 0, 2, 0.5), a: t(c.p, 1, 0.5), b: t(c.p, 2, 0.5), y: t(c.x, 3, 1.5), dy: t(c.x, 4) };
};

describe.skipIf(!nativeAvailable())('adaLN kernels on native', () => {
  it('are registered on native only (the composites are the reference)', () => {
    for (const name of ['OpensoraLayerNormModulate', 'OpensoraLayerNormModulateGrad', 'OpensoraGatedAdd', 'OpensoraGatedAddGrad']) {
      expect(tf.getKernel(name, 'native'), name).toBeDefined();
      expect(tf.getKernel(name, 'cpu'), name).toBeUndefined();
    }
  });

  for (const c of cases) {
    it(`x [${c.x}], per-channel [${c.p}]: the composites' values and gradients`, () => {
      const native = runOn('native', () => {
        const { x, a, b, y, dy } = tensors(c, 7);
        const e = tf.engine();
        const ln = e.runKernel('OpensoraLayerNormModulate', { x, shift: a, scale: b }, { eps: 1e-6, groups: c.groups }) as tf.Tensor;
        const lnGrad = e.runKernel('OpensoraLayerNormModulateGrad', { dy, x, scale: b }, { eps: 1e-6, groups: c.groups }) as tf.Tensor[];
        const ga = e.runKernel('OpensoraGatedAdd', { x, gate: a, y }, { groups: c.groups }) as tf.Tensor;
        const gaGrad = e.runKernel('OpensoraGatedAddGrad', { dy, gate: a, y }, { groups: c.groups }) as tf.Tensor[];
        return [ln, ...lnGrad, ga, ...gaGrad];
      });
      const cpu = runOn('cpu', () => {
        const { x, a, b, y, dy } = tensors(c, 7);
        const ln = (xx: tf.Tensor, sh: tf.Tensor, sc: tf.Tensor) => layerNormModulateComposite(xx, sh, sc, 1e-6);
        const lnGrad = tf.grads((xx: tf.Tensor, sh: tf.Tensor, sc: tf.Tensor) => tf.sum(tf.mul(ln(xx, sh, sc), dy)))([x, a, b]);
        const gaGrad = tf.grads((g: tf.Tensor, yy: tf.Tensor) => tf.sum(tf.mul(gatedAddComposite(x, g, yy), dy)))([a, y]);
        return [ln(x, a, b), ...lnGrad, gatedAddComposite(x, a, y), gaGrad[1]!, gaGrad[0]!];
      });
      const names = ['y', 'dx', 'dshift', 'dscale', 'gated', 'dy*gate', 'dgate'];
      expect(native.map((o) => o.shape)).toEqual(cpu.map((o) => o.shape));
      // Per-channel sums run over a group's rows (float32 and double here, float32 in tfjs, in other
      // orders): their slack is that of a sum of that many terms of the inputs' size (up to ~3 x 2).
      const rows = c.x.reduce((p, d) => p * d, 1) / c.x[c.x.length - 1]! / c.groups;
      native.forEach((o, i) => {
        const sum = names[i] === 'dshift' || names[i] === 'dscale' || names[i] === 'dgate';
        expectClose(o.values, cpu[i]!.values, 2e-6, sum ? sumAtol(rows, 6) : 2e-6, `${names[i]} [${c.x}]`);
      });
    });
  }

  it('gives the same values on 1 and 3 threads (partial sums over fixed blocks of rows)', () => {
    const c = cases[1]!;
    const addon = loadAddon();
    const run = (threads: number) => {
      addon.setThreads(threads);
      return runOn('native', () => {
        const { x, b, dy, y, a } = tensors(c, 11);
        const e = tf.engine();
        return [
          ...(e.runKernel('OpensoraLayerNormModulateGrad', { dy, x, scale: b }, { eps: 1e-6, groups: c.groups }) as tf.Tensor[]),
          ...(e.runKernel('OpensoraGatedAddGrad', { dy, gate: a, y }, { groups: c.groups }) as tf.Tensor[]),
        ];
      });
    };
    const before = addon.info().threads;
    try {
      const one = run(1);
      const three = run(3);
      one.forEach((o, i) => expect(Array.from(three[i]!.values)).toEqual(Array.from(o.values)));
    } finally {
      addon.setThreads(before);
    }
  });
});
