// The fused kernels called by name (as @opensora-ts/kernels calls them), compared with tfjs
// composites of the same maths on cpu, forward and backward kernels. The op-level suites in
// @opensora-ts/kernels run them again through the public ops on every backend.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it, vi } from 'vitest';
import { groupNormSiluComposite } from '../../../kernels/src/fused/group-norm-silu.js';
import { gatedAddComposite, layerNormModulateComposite } from '../../../kernels/src/fused/modulate.js';
import { loadAddon } from '../addon.js';
import { TorchBackend } from '../backend.js';
import { torchBackendInfo } from '../register.js';
import { expectClose, rand, runOn, torchAvailable } from '../testing.js';

const run = (name: string, inputs: tf.NamedTensorMap, attrs: Record<string, unknown>) =>
  tf.engine().runKernel(name, inputs, attrs as tf.NamedAttrMap) as tf.Tensor | tf.Tensor[];
const list = (o: tf.Tensor | tf.Tensor[]) => (Array.isArray(o) ? o : [o]);

function layerNorm(x: tf.Tensor, g: tf.Tensor, b: tf.Tensor, eps: number): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, eps))), g), b);
}
function rmsNorm(x: tf.Tensor, g: tf.Tensor, eps: number): tf.Tensor {
  return tf.mul(tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), eps))), g);
}
function groupNorm(x: tf.Tensor, g: tf.Tensor, b: tf.Tensor, groups: number, eps: number): tf.Tensor {
  const c = x.shape[x.rank - 1]!;
  const xg = tf.reshape(x, [x.shape[0]!, -1, groups, c / groups]);
  const { mean, variance } = tf.moments(xg, [1, 3], true);
  const y = tf.reshape(tf.div(tf.sub(xg, mean), tf.sqrt(tf.add(variance, eps))), x.shape);
  return tf.add(tf.mul(y, g), b);
}
function attention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, allow: tf.Tensor, scale: number): tf.Tensor {
  const s = tf.mul(tf.matMul(q, k, false, true), scale);
  return tf.matMul(tf.softmax(tf.where(allow, s, tf.fill(s.shape, -Infinity))), v);
}

describe.skipIf(!torchAvailable())('fused norm kernels on torch', () => {
  it('OpensoraLayerNorm and its Grad equal the composite and its gradients', () => {
    const eps = 1e-6;
    const x = () => tf.add(rand([3, 5, 16], 1, 2), 0.5);
    const g = () => tf.add(rand([16], 2, 0.1), 1);
    const b = () => rand([16], 3, 0.1);
    const dy = () => rand([3, 5, 16], 4);
    const fused = runOn('torch', () => [run('OpensoraLayerNorm', { x: x(), gamma: g(), beta: b() }, { eps, hasGamma: 1, hasBeta: 1 }) as tf.Tensor, ...list(run('OpensoraLayerNormGrad', { dy: dy(), x: x(), gamma: g() }, { eps, hasGamma: 1, hasBeta: 1 }))]);
    const ref = runOn('cpu', () => [layerNorm(x(), g(), b(), eps), ...tf.grads((a: tf.Tensor, c: tf.Tensor, d: tf.Tensor) => tf.sum(tf.mul(layerNorm(a, c, d, eps), dy())))([x(), g(), b()])]);
    fused.forEach((f, i) => expectClose(f.values, ref[i]!.values, 1e-4, 2e-5, `output ${i}`));
  });
  it('OpensoraRMSNorm and its Grad', () => {
    const eps = 1e-6;
    const x = () => rand([4, 24], 1, 2);
    const g = () => tf.add(rand([24], 2, 0.1), 1);
    const dy = () => rand([4, 24], 4);
    const fused = runOn('torch', () => [run('OpensoraRMSNorm', { x: x(), gamma: g() }, { eps, hasGamma: 1, hasBeta: 0 }) as tf.Tensor, ...list(run('OpensoraRMSNormGrad', { dy: dy(), x: x(), gamma: g() }, { eps, hasGamma: 1, hasBeta: 0 }))]);
    const ref = runOn('cpu', () => [rmsNorm(x(), g(), eps), ...tf.grads((a: tf.Tensor, c: tf.Tensor) => tf.sum(tf.mul(rmsNorm(a, c, eps), dy())))([x(), g()])]);
    fused.forEach((f, i) => expectClose(f.values, ref[i]!.values, 1e-4, 2e-5, `output ${i}`));
  });
  it('OpensoraGroupNorm (channels-last) and its Grad, including one-channel groups', () => {
    for (const groups of [4, 16]) {
      const eps = 1e-6;
      const x = () => tf.add(rand([2, 3, 5, 16], 1, 2), 0.5);
      const g = () => tf.add(rand([16], 2, 0.1), 1);
      const b = () => rand([16], 3, 0.1);
      const dy = () => rand([2, 3, 5, 16], 4);
      const attrs = { eps, groups, hasGamma: 1, hasBeta: 1 };
      const fused = runOn('torch', () => [run('OpensoraGroupNorm', { x: x(), gamma: g(), beta: b() }, attrs) as tf.Tensor, ...list(run('OpensoraGroupNormGrad', { dy: dy(), x: x(), gamma: g() }, attrs))]);
      const ref = runOn('cpu', () => [groupNorm(x(), g(), b(), groups, eps), ...tf.grads((a: tf.Tensor, c: tf.Tensor, d: tf.Tensor) => tf.sum(tf.mul(groupNorm(a, c, d, groups, eps), dy())))([x(), g(), b()])]);
      fused.forEach((f, i) => expectClose(f.values, ref[i]!.values, 1e-4, 5e-5, `groups ${groups} output ${i}`));
    }
  });
  it('OpensoraGroupNorm without gamma, with beta only, and with a variance of the order of eps', () => {
    const eps = 1e-6;
    const dy = () => rand([2, 4, 3, 8], 4);
    // Nearly constant input (0.5 +- 1e-3): the variance is of the order of eps, where a one-pass
    // E[x^2] - E[x]^2 loses most of its digits.
    const inputs = { spread: () => tf.add(rand([2, 4, 3, 8], 1, 2), 0.5), flat: () => tf.add(rand([2, 4, 3, 8], 5, 1e-3), 0.5) };
    for (const [what, x] of Object.entries(inputs)) {
      const b = () => rand([8], 3, 0.1);
      const ones = () => tf.ones([8]);
      const zeros = () => tf.zeros([8]);
      const fused = runOn('torch', () => [
        run('OpensoraGroupNorm', { x: x() }, { eps, groups: 2, hasGamma: 0, hasBeta: 0 }) as tf.Tensor,
        run('OpensoraGroupNorm', { x: x(), beta: b() }, { eps, groups: 2, hasGamma: 0, hasBeta: 1 }) as tf.Tensor,
        ...list(run('OpensoraGroupNormGrad', { dy: dy(), x: x() }, { eps, groups: 2, hasGamma: 0, hasBeta: 1 })),
      ]);
      const ref = runOn('cpu', () => [
        groupNorm(x(), ones(), zeros(), 2, eps),
        groupNorm(x(), ones(), b(), 2, eps),
        ...tf.grads((a: tf.Tensor, d: tf.Tensor) => tf.sum(tf.mul(groupNorm(a, ones(), d, 2, eps), dy())))([x(), b()]),
      ]);
      expect(fused.map((f) => f.shape)).toEqual([[2, 4, 3, 8], [2, 4, 3, 8], [2, 4, 3, 8], [8]]);
      // The flat case's dx is ill-conditioned (rstd ~ 700): cpu's float32 composite is itself off by ~2e-4 there.
      fused.forEach((f, i) => expectClose(f.values, ref[i]!.values, what === 'flat' && i === 2 ? 1e-3 : 1e-4, 5e-5, `${what} output ${i}`));
    }
  });
  it('OpensoraGroupNorm: a group of one element normalises to exactly 0 (beta exactly, with beta)', () => {
    const x = () => rand([3, 8], 1, 2);
    const [y, yb] = runOn('torch', () => [
      run('OpensoraGroupNorm', { x: x() }, { eps: 1e-5, groups: 8, hasGamma: 0, hasBeta: 0 }) as tf.Tensor,
      run('OpensoraGroupNorm', { x: x(), gamma: rand([8], 2), beta: tf.fill([8], 0.25) }, { eps: 1e-5, groups: 8, hasGamma: 1, hasBeta: 1 }) as tf.Tensor,
    ]);
    expect(Array.from(y!.values)).toEqual(new Array(24).fill(0));
    expect(Array.from(yb!.values)).toEqual(new Array(24).fill(0.25));
  });
  it('OpensoraGeluTanh and its Grad', () => {
    const x = () => rand([5, 7], 1, 3);
    const dy = () => rand([5, 7], 2);
    const gelu = (a: tf.Tensor) => tf.mul(tf.mul(a, 0.5), tf.add(1, tf.tanh(tf.mul(Math.sqrt(2 / Math.PI), tf.add(a, tf.mul(0.044715, tf.pow(a, 3)))))));
    const fused = runOn('torch', () => [run('OpensoraGeluTanh', { x: x() }, {}) as tf.Tensor, ...list(run('OpensoraGeluTanhGrad', { dy: dy(), x: x() }, {}))]);
    const ref = runOn('cpu', () => [gelu(x()), ...tf.grads((a: tf.Tensor) => tf.sum(tf.mul(gelu(a), dy())))([x()])]);
    fused.forEach((f, i) => expectClose(f.values, ref[i]!.values, 1e-5, 2e-6, `output ${i}`));
  });
});

describe.skipIf(!torchAvailable())('OpensoraAttention on torch (scaled_dot_product_attention)', () => {
  const b = 2, h = 3, nq = 5, nk = 6, d = 4, dv = 3;
  const q = () => rand([b, h, nq, d], 1);
  const k = () => rand([b, h, nk, d], 2);
  const v = () => rand([b, h, nk, dv], 3);
  const dy = () => rand([b, h, nq, dv], 4);
  const keyMask = [1, 1, 0, 1, 1, 0, 1, 1, 1, 1, 1, 0];
  const cases: { what: string; mask: () => tf.Tensor; allow: () => tf.Tensor; causal: boolean; scale: number }[] = [
    { what: 'no mask', mask: () => tf.ones([1, nk]), allow: () => tf.ones([1, 1, 1, nk], 'bool'), causal: false, scale: 0.5 },
    { what: 'key mask [B, Nk]', mask: () => tf.tensor2d(keyMask, [b, nk]), allow: () => tf.cast(tf.tensor4d(keyMask, [b, 1, 1, nk]), 'bool'), causal: false, scale: 0.5 },
    {
      what: 'causal + shared key mask, custom scale',
      mask: () => tf.tensor2d(keyMask.slice(0, nk), [1, nk]),
      allow: () => tf.logicalAnd(tf.cast(tf.tensor4d(keyMask.slice(0, nk), [1, 1, 1, nk]), 'bool'), tf.cast(tf.linalg.bandPart(tf.ones([nq, nk]), -1, 0), 'bool')),
      causal: true,
      scale: 0.13,
    },
    {
      what: 'per-query mask [B, Nq, Nk]',
      mask: () => tf.greater(rand([b, nq, nk], 9), -0.8),
      allow: () => tf.expandDims(tf.greater(rand([b, nq, nk], 9), -0.8), 1),
      causal: false,
      scale: 0.5,
    },
  ];
  for (const c of cases) {
    it(`${c.what}: forward and Grad equal the composite and its gradients`, () => {
      const attrs = { scale: c.scale, causal: c.causal ? 1 : 0 };
      const fused = runOn('torch', () => {
        const mask = tf.cast(c.mask(), 'float32');
        return [run('OpensoraAttention', { q: q(), k: k(), v: v(), mask }, attrs) as tf.Tensor, ...list(run('OpensoraAttentionGrad', { dy: dy(), q: q(), k: k(), v: v(), mask }, attrs))];
      });
      const ref = runOn('cpu', () => {
        const f = (a: tf.Tensor, bb: tf.Tensor, cc: tf.Tensor) => attention(a, bb, cc, c.allow(), c.scale);
        return [f(q(), k(), v()), ...tf.grads((a: tf.Tensor, bb: tf.Tensor, cc: tf.Tensor) => tf.sum(tf.mul(f(a, bb, cc), dy())))([q(), k(), v()])];
      });
      fused.forEach((f, i) => expectClose(f.values, ref[i]!.values, 1e-4, 1e-5, `output ${i}`));
    });
  }
  it('a query row with no key to attend is NaN, as the cpu kernel (and plain softmax) give', () => {
    const [y] = runOn('torch', () => run('OpensoraAttention', { q: q(), k: k(), v: v(), mask: tf.tensor2d([1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0], [b, nk]) }, { scale: 0.5, causal: 0 }) as tf.Tensor);
    const half = y!.values.length / 2;
    expect(Array.from(y!.values.slice(0, half)).every(Number.isFinite)).toBe(true);
    expect(Array.from(y!.values.slice(half)).every(Number.isNaN)).toBe(true);
  });
});

describe.skipIf(!torchAvailable())('OpensoraAttention under a gradient tape on torch', () => {
  const b = 2, h = 2, nq = 5, nk = 6, d = 4;
  // On the CPU, products this small run as GEMMs + softmax and keep the probabilities p for the
  // backward on every libtorch; larger ones keep the flash kernel's output and logsumexp on
  // libtorch >= 2.5 (a 1.13 addon recomputes them).
  const [major, minor] = torchBackendInfo()!.version.split('.').map(Number) as [number, number];
  const cpu = torchBackendInfo()!.device === 'cpu';
  const keeps = cpu;
  const keepsFlash = cpu && (major > 2 || (major === 2 && minor >= 5));
  const savedShapes = (save: { mock: { calls: unknown[][] } }) => save.mock.calls.map((call) => (call[3] as tf.TensorInfo[]).map((t) => t.shape));
  it.skipIf(!cpu)('keeps p [B, H, Nq, Nk] for products up to 256x256 per head, the flash state above; gradients equal the composite\'s', () => {
    const prev = tf.getBackend();
    const shapes = [
      { hh: 2, n: 6, m: 5 },
      { hh: 1, n: 256, m: 256 },
      { hh: 1, n: 257, m: 256 },
    ];
    try {
      for (const { hh, n, m: nkk } of shapes) {
        const inputs = () => [rand([1, hh, n, 8], 1), rand([1, hh, nkk, 8], 2), rand([1, hh, nkk, 8], 3), rand([1, hh, n, 8], 4)] as const;
        const allow = () => tf.ones([1, 1, 1, nkk], 'bool');
        tf.setBackend('torch');
        const save = vi.spyOn(tf.backend() as TorchBackend, 'saveForGradient');
        let taped: tf.backend_util.TypedArray[];
        let saved: number[][][];
        try {
          taped = tf.tidy(() => {
            const [q, k, v, dy] = inputs();
            const g = tf.grads((a: tf.Tensor, bb: tf.Tensor, cc: tf.Tensor) =>
              tf.sum(tf.mul(tf.engine().runKernel('OpensoraAttention', { q: a, k: bb, v: cc, mask: tf.ones([1, nkk]) }, { scale: 0.3, causal: 0 }) as tf.Tensor, dy)),
            )([q, k, v]);
            return g.map((t) => t.dataSync());
          });
          saved = savedShapes(save);
        } finally {
          save.mockRestore();
        }
        const math = n * nkk <= 256 * 256;
        expect(saved, `${n}x${nkk}`).toEqual(math ? [[[1, hh, n, nkk]]] : keepsFlash ? [[[1, hh, n, 8], [1, hh, n]]] : []);
        tf.setBackend('cpu');
        const ref = tf.tidy(() => {
          const [q, k, v, dy] = inputs();
          return tf.grads((a: tf.Tensor, bb: tf.Tensor, cc: tf.Tensor) => tf.sum(tf.mul(attention(a, bb, cc, allow(), 0.3), dy)))([q, k, v]).map((t) => t.dataSync());
        });
        taped.forEach((t, i) => expectClose(t, ref[i]!, 1e-4, 1e-5, `${n}x${nkk} gradient ${i}`));
      }
    } finally {
      tf.setBackend(prev);
    }
  });
  const masks: [string, () => tf.Tensor][] = [
    ['no mask', () => tf.ones([1, nk])],
    ['key mask', () => tf.tensor2d([1, 1, 0, 1, 1, 0, 1, 1, 1, 1, 1, 0], [b, nk])],
    ['per-query mask with empty rows', () => tf.tidy(() => tf.cast(tf.greater(rand([b, nq, nk], 5), 0.9), 'float32'))],
  ];
  for (const [what, mask] of masks) {
    it(`${what}: the gradients through the tape are the Grad kernel's bit for bit, and nothing is left behind`, () => {
      const prev = tf.getBackend();
      tf.setBackend('torch');
      const be = tf.backend() as TorchBackend;
      const save = vi.spyOn(be, 'saveForGradient');
      try {
        be.flushReleases();
        const before = loadAddon().memory().tensors;
        const [q, k, v, m, dy] = [rand([b, h, nq, d], 1), rand([b, h, nk, d], 2), rand([b, h, nk, d], 3), mask(), rand([b, h, nq, d], 4)];
        const attrs = { scale: 0.4, causal: what === 'no mask' ? 1 : 0 };
        const run2 = (name: string, inputs: tf.NamedTensorMap) => tf.engine().runKernel(name, inputs, attrs) as tf.Tensor | tf.Tensor[];
        // Through the tape: the forward may keep its flash output; the gradient takes it.
        const taped = tf.grads((a: tf.Tensor, bb: tf.Tensor, cc: tf.Tensor) => tf.sum(tf.mul(run2('OpensoraAttention', { q: a, k: bb, v: cc, mask: m }) as tf.Tensor, dy)))([q, k, v]);
        // The Grad kernel on its own recomputes the forward under libtorch's autograd.
        const direct = list(run2('OpensoraAttentionGrad', { dy, q, k, v, mask: m }));
        expect(save).toHaveBeenCalledTimes(keeps ? 1 : 0);
        for (let i = 0; i < 3; i++) {
          const [t, r] = [Array.from(taped[i]!.dataSync()), Array.from(direct[i]!.dataSync())];
          expect(t.map((x) => (Number.isNaN(x) ? 'NaN' : x)), `input ${i}`).toEqual(r.map((x) => (Number.isNaN(x) ? 'NaN' : x)));
        }
        tf.dispose([...taped, ...direct]);
        // A forward under a tape whose gradient never runs: what it kept goes with its inputs.
        const [q2, k2, v2, one] = [rand([b, h, nq, d], 6), rand([b, h, nk, d], 7), rand([b, h, nk, d], 8), tf.ones([1])];
        const [g] = tf.grads((a: tf.Tensor) => {
          run2('OpensoraAttention', { q: q2, k: k2, v: v2, mask: m }); // not on the path to the result
          return tf.sum(tf.mul(a, 2));
        })([one]);
        expect(save).toHaveBeenCalledTimes(keeps ? 2 : 0);
        tf.dispose([g!, one, q2, k2, v2, q, k, v, m, dy]);
        be.flushReleases();
        expect(loadAddon().memory().tensors).toBe(before);
      } finally {
        save.mockRestore();
        tf.setBackend(prev);
      }
    });
  }
});

describe.skipIf(!torchAvailable())('GroupNorm + SiLU and the adaLN kernels on torch', () => {
  it('OpensoraGroupNormSilu equals silu(groupNorm) (with and without gamma / beta)', () => {
    const x = () => tf.add(rand([2, 3, 4, 8], 1, 2), 0.3);
    const g = () => tf.add(rand([8], 2, 0.1), 1);
    const bt = () => rand([8], 3, 0.1);
    for (const affine of [true, false]) {
      const attrs = { eps: 1e-6, groups: 4, hasGamma: affine ? 1 : 0, hasBeta: affine ? 1 : 0 };
      const fused = runOn('torch', () => run('OpensoraGroupNormSilu', affine ? { x: x(), gamma: g(), beta: bt() } : { x: x() }, attrs) as tf.Tensor);
      const ref = runOn('torch', () => groupNormSiluComposite(x(), 4, affine ? g() : null, affine ? bt() : null, 1e-6));
      // The composite's ops on the same backend: the same ATen maths, bit for bit.
      expect(Array.from(fused[0]!.values)).toEqual(Array.from(ref[0]!.values));
    }
  });
  const shapes: { x: number[]; p: number[]; groups: number }[] = [
    { x: [2, 3, 4, 8], p: [2, 1, 1, 8], groups: 2 },
    { x: [2, 3, 4, 8], p: [2, 3, 1, 8], groups: 6 },
    { x: [5, 8], p: [8], groups: 1 },
  ];
  for (const c of shapes) {
    it(`OpensoraLayerNormModulate / OpensoraGatedAdd and their Grads, x [${c.x}], per-channel [${c.p}]`, () => {
      const t = () => ({ x: rand(c.x, 1, 2), a: rand(c.p, 2, 0.5), s: rand(c.p, 3, 0.5), y: rand(c.x, 4), dy: rand(c.x, 5) });
      const fused = runOn('torch', () => {
        const { x, a, s, y, dy } = t();
        const e = tf.engine();
        return [
          e.runKernel('OpensoraLayerNormModulate', { x, shift: a, scale: s }, { eps: 1e-6, groups: c.groups }) as tf.Tensor,
          ...(e.runKernel('OpensoraLayerNormModulateGrad', { dy, x, scale: s }, { eps: 1e-6, groups: c.groups }) as tf.Tensor[]),
          e.runKernel('OpensoraGatedAdd', { x, gate: a, y }, { groups: c.groups }) as tf.Tensor,
          ...(e.runKernel('OpensoraGatedAddGrad', { dy, gate: a, y }, { groups: c.groups }) as tf.Tensor[]),
        ];
      });
      const ref = runOn('cpu', () => {
        const { x, a, s, y, dy } = t();
        const ln = (xx: tf.Tensor, sh: tf.Tensor, sc: tf.Tensor) => layerNormModulateComposite(xx, sh, sc, 1e-6);
        const lnGrads = tf.grads((xx: tf.Tensor, sh: tf.Tensor, sc: tf.Tensor) => tf.sum(tf.mul(ln(xx, sh, sc), dy)))([x, a, s]);
        const gaGrads = tf.grads((g: tf.Tensor, yy: tf.Tensor) => tf.sum(tf.mul(gatedAddComposite(x, g, yy), dy)))([a, y]);
        return [ln(x, a, s), ...lnGrads, gatedAddComposite(x, a, y), gaGrads[1]!, gaGrads[0]!];
      });
      expect(fused.map((o) => o.shape)).toEqual(ref.map((o) => o.shape));
      fused.forEach((f, i) => expectClose(f.values, ref[i]!.values, 1e-4, 2e-5, `output ${i}`));
    });
  }
});
