// The modulated LayerNorm and the gated residual (ops/modulate.ts) on every backend: the fused
// kernels where the backend has them (native) against the composites, forward and backward, and
// a finite-difference gradient check of the op as the models call it.
import { afterEach, expect, it } from 'vitest';
import { tf } from '../tf.js';
import { describeEachBackend } from '../testing/backends.js';
import { expectClose } from '../testing/assert.js';
import { checkGradients } from '../testing/gradcheck.js';
import { randn } from '../testing/random.js';
import { gatedAdd, layerNormModulate } from '../ops/modulate.js';
import { gatedAddComposite, layerNormModulateComposite, rowGroups } from './modulate.js';
import { fusedKernelAvailable, setFusedKernelsEnabled } from './registry.js';

afterEach(() => setFusedKernelsEnabled(true));

/** x shape and the per-channel tensors' shape: STDiT3's [B, T, S, C] with [B, 1|T, 1, C], and other layouts. */
const layouts: { x: number[]; p: number[] }[] = [
  { x: [2, 3, 5, 16], p: [2, 1, 1, 16] },
  { x: [2, 3, 5, 16], p: [2, 3, 1, 16] },
  { x: [1, 4, 7, 9], p: [1, 1, 1, 9] },
  { x: [3, 10, 24], p: [24] },
  { x: [4, 6, 8], p: [4, 6, 8] },
  { x: [2, 3, 4, 8], p: [1, 3, 1, 8] }, // not whole-row groups: the composite runs
];

const label = (l: { x: number[]; p: number[] }) => `x [${l.x.join(',')}], per-channel [${l.p.join(',')}]`;

function both<T>(f: () => T): [T, T] {
  const fused = f();
  setFusedKernelsEnabled(false);
  try {
    return [fused, f()];
  } finally {
    setFusedKernelsEnabled(true);
  }
}

it('rowGroups accepts per-channel tensors that select groups of whole rows', () => {
  expect(rowGroups([2, 3, 5, 16], [2, 1, 1, 16])).toBe(2);
  expect(rowGroups([2, 3, 5, 16], [2, 3, 1, 16])).toBe(6);
  expect(rowGroups([2, 3, 5, 16], [16])).toBe(1);
  expect(rowGroups([2, 3, 5, 16], [1, 1, 1, 16])).toBe(1);
  expect(rowGroups([2, 3, 5, 16], [2, 3, 5, 16])).toBe(30);
  expect(rowGroups([2, 3, 5, 16], [1, 3, 1, 16])).toBeNull();
  expect(rowGroups([2, 3, 5, 16], [2, 1, 5, 16])).toBeNull();
  expect(rowGroups([2, 3, 5, 16], [2, 1, 1, 1])).toBeNull();
  expect(rowGroups([5, 16], [1, 5, 16])).toBeNull();
});

describeEachBackend('modulate ops', (backend) => {
  it('run as fused kernels on native and torch only', () => {
    const fused = backend === 'native' || backend === 'torch';
    for (const k of ['OpensoraLayerNormModulate', 'OpensoraGatedAdd'] as const) {
      expect(fusedKernelAvailable(k)).toBe(fused);
      if (fused) expect(tf.getKernel(`${k}Grad`, backend)).toBeDefined();
    }
  });

  for (const [i, l] of layouts.entries()) {
    it(`layerNormModulate equals the composite, forward and backward: ${label(l)}`, () => {
      tf.tidy(() => {
        const x = randn(l.x, 10 + i, 2, 0.7);
        const shift = randn(l.p, 20 + i, 0.5);
        const scale = randn(l.p, 30 + i, 0.5);
        const w = randn(l.x, 40 + i);
        const [yf, yc] = both(() => layerNormModulate(x, shift, scale, 1e-6));
        expect(yf.shape).toEqual(l.x);
        // Same float32 steps as the composite on this backend: equal up to the LN's own rounding.
        expectClose(yf, layerNormModulateComposite(x, shift, scale, 1e-6), { atol: 2e-6, rtol: 2e-6, what: 'fused vs composite' });
        expectClose(yf, yc, { atol: 2e-6, rtol: 2e-6, what: 'op with kernels off' });
        const [gf, gc] = both(() => tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => layerNormModulate(a, b, c, 1e-6))([x, shift, scale], w));
        ['dx', 'dshift', 'dscale'].forEach((what, k) => {
          expect(gf[k]!.shape).toEqual(k === 0 ? l.x : l.p);
          const slack = k === 0 ? 1 : Math.sqrt(x.size / gf[k]!.size);
          expectClose(gf[k]!, gc[k]!, { atol: 1e-5 * slack, rtol: 1e-5, what });
        });
      });
    });

    it(`gatedAdd equals the composite, forward and backward: ${label(l)}`, () => {
      tf.tidy(() => {
        const x = randn(l.x, 50 + i);
        const gate = randn(l.p, 60 + i, 0.8);
        const y = randn(l.x, 70 + i, 1.5);
        const w = randn(l.x, 80 + i);
        const [of, oc] = both(() => gatedAdd(x, gate, y));
        expect(of.shape).toEqual(l.x);
        expectClose(of, gatedAddComposite(x, gate, y), { atol: 0, rtol: 0, what: 'fused vs composite (same float32 steps)' });
        expectClose(of, oc, { atol: 0, rtol: 0, what: 'op with kernels off' });
        const [gf, gc] = both(() => tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => gatedAdd(a, b, c))([x, gate, y], w));
        ['dx', 'dgate', 'dy'].forEach((what, k) => {
          expect(gf[k]!.shape).toEqual(k === 1 ? l.p : l.x);
          const slack = k === 1 ? Math.sqrt(x.size / gf[k]!.size) : 1;
          expectClose(gf[k]!, gc[k]!, { atol: 1e-5 * slack, rtol: 1e-5, what });
        });
      });
    });
  }

  it('gradients match finite differences', () => {
    const x = randn([2, 3, 4, 8], 1, 1.5, 0.3);
    const shift = randn([2, 3, 1, 8], 2, 0.5);
    const scale = randn([2, 3, 1, 8], 3, 0.5);
    const gate = randn([2, 1, 1, 8], 4, 0.8);
    const y = randn([2, 3, 4, 8], 5);
    checkGradients((a, b, c) => layerNormModulate(a, b, c, 1e-6), [x, shift, scale], { what: 'layerNormModulate' });
    checkGradients((a, b, c) => gatedAdd(a, b, c), [x, gate, y], { what: 'gatedAdd' });
    tf.dispose([x, shift, scale, gate, y]);
  });

  it('keeps no tensors, forward and backward', () => {
    const x = randn([2, 3, 5, 16], 1);
    const p = randn([2, 1, 1, 16], 2);
    const w = randn([2, 3, 5, 16], 3);
    const step = () =>
      tf.tidy(() => {
        tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => gatedAdd(a, b, layerNormModulate(a, c, b, 1e-6)))([x, p, p], w).forEach((g) => g.dataSync());
      });
    step();
    const before = tf.memory().numTensors;
    for (let k = 0; k < 3; k++) step();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, p, w]);
  });

  it('native kernels reject per-channel tensors of the wrong size, naming the expected count', () => {
    if (backend !== 'native') return;
    tf.tidy(() => {
      const x = randn([2, 3, 8], 1);
      const p = randn([3, 8], 2);
      expect(() => tf.engine().runKernel('OpensoraLayerNormModulate', { x, shift: p, scale: p }, { eps: 1e-6, groups: 2 })).toThrow(/expected groups x channels = 16/);
      expect(() => tf.engine().runKernel('OpensoraGatedAdd', { x, gate: p, y: x }, { groups: 4 })).toThrow(/groups=4 does not split x/);
    });
  });
});
