// The fused kernels against their reference composites, forward and backward, on every backend
// that has them; and the kernel contract the native backend implements too.
import { afterEach, expect, it } from 'vitest';
import { tf } from '../tf.js';
import { describeEachBackend } from '../testing/backends.js';
import { expectClose } from '../testing/assert.js';
import { randn } from '../testing/random.js';
import { fusedKernelAvailable, runFused, setFusedKernelsEnabled, type FusedKernelName, type OptimKernelName } from './registry.js';
import type { FusedInputs } from './composites.js';

type Case = { kernel: Parameters<typeof runFused>[0]; shape: number[]; gamma: boolean; beta: boolean; attrs: Record<string, number> };

const cases: Case[] = [
  { kernel: 'OpensoraLayerNorm', shape: [3, 5, 16], gamma: true, beta: true, attrs: { eps: 1e-6 } },
  { kernel: 'OpensoraLayerNorm', shape: [7, 24], gamma: false, beta: false, attrs: { eps: 1e-5 } },
  { kernel: 'OpensoraLayerNorm', shape: [4, 12], gamma: true, beta: false, attrs: { eps: 1e-5 } },
  { kernel: 'OpensoraLayerNorm', shape: [4, 12], gamma: false, beta: true, attrs: { eps: 1e-5 } },
  { kernel: 'OpensoraGroupNorm', shape: [2, 3, 4, 5, 8], gamma: true, beta: true, attrs: { eps: 1e-6, groups: 4 } },
  { kernel: 'OpensoraGroupNorm', shape: [2, 6, 12], gamma: false, beta: false, attrs: { eps: 1e-5, groups: 3 } },
  { kernel: 'OpensoraGroupNorm', shape: [3, 8], gamma: true, beta: true, attrs: { eps: 1e-5, groups: 8 } },
  { kernel: 'OpensoraGroupNorm', shape: [1, 4, 4, 6], gamma: true, beta: false, attrs: { eps: 1e-5, groups: 1 } },
  { kernel: 'OpensoraRMSNorm', shape: [2, 5, 16], gamma: true, beta: false, attrs: { eps: 1e-6 } },
  { kernel: 'OpensoraRMSNorm', shape: [6, 10], gamma: false, beta: false, attrs: { eps: 1e-5 } },
  { kernel: 'OpensoraGeluTanh', shape: [4, 7, 9], gamma: false, beta: false, attrs: {} },
];

function label(c: Case): string {
  return `${c.kernel} [${c.shape.join(',')}]${c.gamma ? ' gamma' : ''}${c.beta ? ' beta' : ''}${c.attrs.groups ? ` groups=${c.attrs.groups}` : ''}`;
}

function inputsOf(c: Case, seed: number): FusedInputs {
  const ch = c.shape[c.shape.length - 1]!;
  // Offset and scaled input, so normalisation does real work; GELU sees its whole curve.
  const x = c.kernel === 'OpensoraGeluTanh' ? randn(c.shape, seed, 2.5) : randn(c.shape, seed, 2, 0.7);
  return {
    x,
    gamma: c.gamma ? randn([ch], seed + 1, 0.3, 1) : null,
    beta: c.beta ? randn([ch], seed + 2, 0.2) : null,
  };
}

function run(c: Case, inputs: FusedInputs, fused: boolean): tf.Tensor {
  setFusedKernelsEnabled(fused);
  try {
    return runFused(c.kernel, inputs, c.attrs);
  } finally {
    setFusedKernelsEnabled(true);
  }
}

/** Gradients of sum(w * op(x, gamma, beta)) with respect to every input given. */
function grads(c: Case, inputs: FusedInputs, w: tf.Tensor, fused: boolean): tf.Tensor[] {
  const names = (['x', 'gamma', 'beta'] as const).filter((n) => inputs[n] !== null);
  const f = (...xs: tf.Tensor[]) => {
    const m: FusedInputs = { x: inputs.x, gamma: null, beta: null };
    names.forEach((n, i) => (m[n] = xs[i]!));
    return run(c, m, fused);
  };
  return tf.grads(f)(names.map((n) => inputs[n]!), w);
}

afterEach(() => setFusedKernelsEnabled(true));

describeEachBackend('fused kernels', (backend) => {
  const hostBacked = backend === 'cpu' || backend === 'native';

  it('are registered on host-memory backends', () => {
    if (!hostBacked) return; // other backends run the composites
    for (const k of ['OpensoraLayerNorm', 'OpensoraGroupNorm', 'OpensoraRMSNorm', 'OpensoraGeluTanh', 'OpensoraAttention'] as const) {
      expect(fusedKernelAvailable(k)).toBe(true);
      expect(tf.getKernel(`${k}Grad`, backend)).toBeDefined();
    }
    setFusedKernelsEnabled(false);
    expect(fusedKernelAvailable('OpensoraLayerNorm')).toBe(false);
  });

  for (const [i, c] of cases.entries()) {
    it(`forward equals the composite: ${label(c)}`, () => {
      tf.tidy(() => {
        const inputs = inputsOf(c, 100 + i);
        const fused = run(c, inputs, true);
        const composite = run(c, inputs, false);
        expect(fused.shape).toEqual(c.shape);
        expectClose(fused, composite, { atol: 2e-6, rtol: 2e-6, what: 'fused vs composite' });
      });
    });

    it(`gradients equal the composite's autograd: ${label(c)}`, () => {
      tf.tidy(() => {
        const inputs = inputsOf(c, 200 + i);
        const w = randn(c.shape, 300 + i);
        const gf = grads(c, inputs, w, true);
        const gc = grads(c, inputs, w, false);
        expect(gf.length).toBe(gc.length);
        // dgamma/dbeta sum over many rows: scale the slack by their size.
        gf.forEach((g, k) => {
          const scale = k === 0 ? 1 : Math.max(1, Math.sqrt(inputs.x.size / g.size));
          expectClose(g, gc[k]!, { atol: 1e-5 * scale, rtol: 1e-5, what: `gradient ${k}` });
        });
      });
    });
  }

  it('keeps no tensors, forward and backward', () => {
    const c = cases[0]!;
    const inputs = inputsOf(c, 1);
    const w = randn(c.shape, 2);
    const step = () => tf.tidy(() => grads(c, inputs, w, true).forEach((g) => g.dataSync()));
    step();
    const before = tf.memory().numTensors;
    for (let k = 0; k < 3; k++) step();
    // A norm without weight while taping (gamma of ones) must not leak either.
    const bare = cases[1]!;
    const bx = inputsOf(bare, 3);
    const bw = randn(bare.shape, 4);
    tf.tidy(() => grads(bare, bx, bw, true)[0]!.dataSync());
    tf.dispose([bx.x, bw]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([inputs.x, inputs.gamma!, inputs.beta!, w]);
  });

  it('backward kernels return [dx, dgamma?, dbeta?] by the has* attrs', () => {
    if (!hostBacked) return;
    tf.tidy(() => {
      const x = randn([4, 6], 5);
      const dy = randn([4, 6], 6);
      const gamma = randn([6], 7);
      const run = (name: string, inputs: tf.NamedTensorMap, attrs: Record<string, number>) => {
        const out = tf.engine().runKernel(name, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor | tf.Tensor[];
        return (Array.isArray(out) ? out : [out]).map((t) => t.shape);
      };
      expect(run('OpensoraLayerNormGrad', { dy, x, gamma }, { eps: 1e-5, hasGamma: 1, hasBeta: 1 })).toEqual([[4, 6], [6], [6]]);
      expect(run('OpensoraLayerNormGrad', { dy, x }, { eps: 1e-5, hasGamma: 0, hasBeta: 1 })).toEqual([[4, 6], [6]]);
      expect(run('OpensoraLayerNormGrad', { dy, x }, { eps: 1e-5, hasGamma: 0, hasBeta: 0 })).toEqual([[4, 6]]);
      expect(run('OpensoraGroupNormGrad', { dy, x, gamma }, { eps: 1e-5, groups: 2, hasGamma: 1, hasBeta: 0 })).toEqual([[4, 6], [6]]);
      expect(run('OpensoraRMSNormGrad', { dy, x, gamma }, { eps: 1e-5, hasGamma: 1, hasBeta: 0 })).toEqual([[4, 6], [6]]);
      expect(run('OpensoraGeluTanhGrad', { dy, x }, {})).toEqual([[4, 6]]);
    });
  });

  it('rejects inputs that break the contract, naming what was expected', () => {
    if (backend !== 'cpu') return; // the messages are the cpu kernels'
    tf.tidy(() => {
      const x = randn([2, 6], 8);
      const run = (name: string, inputs: tf.NamedTensorMap, attrs: Record<string, number>) => () =>
        tf.engine().runKernel(name, inputs, attrs as unknown as tf.NamedAttrMap);
      expect(run('OpensoraLayerNorm', { x, gamma: tf.ones([5]) }, { eps: 1e-5, hasGamma: 1, hasBeta: 0 })).toThrow(/'gamma' has shape \[5\], expected 6 values/);
      expect(run('OpensoraGroupNorm', { x }, { eps: 1e-5, groups: 4, hasGamma: 0, hasBeta: 0 })).toThrow(/groups=4, expected a positive divisor of the 6 channels/);
      expect(run('OpensoraLayerNorm', { x }, { eps: 1e-5, hasGamma: 1, hasBeta: 0 })).toThrow(/hasGamma=1 but input 'gamma' is absent/);
    });
  });

  it('handles extreme GELU inputs without NaN', () => {
    tf.tidy(() => {
      const x = tf.tensor1d([-1e4, -60, -10, 0, 10, 60, 1e4]);
      const y = run(cases[10]!, { x, gamma: null, beta: null }, true).dataSync();
      expectClose(y, [0, 0, 0, 0, 10, 60, 1e4], { atol: 1e-6, rtol: 1e-7, what: 'gelu at extremes' });
      const g = tf.grad((t: tf.Tensor) => run(cases[10]!, { x: t, gamma: null, beta: null }, true))(x).dataSync();
      expectClose(g, [0, 0, 0, 0.5, 1, 1, 1], { atol: 1e-6, rtol: 0, what: 'gelu gradient at extremes' });
    });
  });
});
