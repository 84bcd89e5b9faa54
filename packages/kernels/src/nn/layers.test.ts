// nn layers against PyTorch's definitions, with state dicts in PyTorch layout.
import { expect, it } from 'vitest';
import { tf } from '../tf.js';
import { describeEachBackend } from '../testing/backends.js';
import { expectClose } from '../testing/assert.js';
import { normalArray, randn } from '../testing/random.js';
import { conv3dTorchRef, geluTanhRef, layerNormRef, rmsNormRef } from '../testing/reference.js';
import { Conv2d, Conv3d } from './conv.js';
import { Linear } from './linear.js';
import { GroupNorm, LayerNorm, RMSNorm } from './norms.js';
import { Dropout, GELU, SiLU } from './activations.js';

describeEachBackend('nn layers', () => {
  it('Conv3d with a PyTorch [out, in, kT, kH, kW] weight equals a naive convolution (stride, padding)', () => {
    const conv = new Conv3d(2, 3, [2, 3, 2], { stride: [1, 2, 1], padding: [1, 1, 0] });
    const wShape: [number, number, number, number, number] = [3, 2, 2, 3, 2];
    const w = normalArray(3 * 2 * 2 * 3 * 2, 1);
    const b = normalArray(3, 2);
    conv.loadStateDict({ weight: tf.tensor(w, wShape), bias: tf.tensor1d(b) });
    tf.tidy(() => {
      const xShape: [number, number, number, number, number] = [2, 3, 5, 4, 2];
      const x = randn(xShape, 3);
      const y = conv.forward(x as tf.Tensor5D);
      const ref = conv3dTorchRef(x.dataSync(), xShape, w, wShape, b, [1, 2, 1], [1, 1, 0]);
      expect(y.shape).toEqual(ref.shape);
      expectClose(y, ref.data, { atol: 1e-5, rtol: 1e-5 });
      // the state dict gives the weight back in PyTorch layout
      const sd = conv.stateDict();
      expect(sd.get('weight')!.shape).toEqual(wShape);
      expectClose(sd.get('weight')!, w, { atol: 0, rtol: 0 });
    });
    conv.dispose();
  });

  it('Conv2d with a PyTorch [out, in, kH, kW] weight equals a naive convolution', () => {
    const conv = new Conv2d(3, 2, [3, 2], { stride: [2, 1], padding: [1, 1] });
    const w = normalArray(2 * 3 * 3 * 2, 4);
    const b = normalArray(2, 5);
    conv.loadStateDict({ weight: tf.tensor(w, [2, 3, 3, 2]), bias: tf.tensor1d(b) });
    tf.tidy(() => {
      const x = randn([2, 5, 4, 3], 6);
      const y = conv.forward(x as tf.Tensor4D);
      // a 2-D convolution is a 3-D one with T = kT = 1
      const ref = conv3dTorchRef(x.dataSync(), [2, 1, 5, 4, 3], w, [2, 3, 1, 3, 2], b, [1, 2, 1], [0, 1, 1]);
      expect(y.shape).toEqual([2, ref.shape[2], ref.shape[3], 2]);
      expectClose(y, ref.data, { atol: 1e-5, rtol: 1e-5 });
    });
    const noBias = new Conv2d(3, 2, 1, { bias: false });
    expect([...noBias.stateDictShapes().keys()]).toEqual(['weight']);
    conv.dispose();
    noBias.dispose();
  });

  it('Linear is x W^T + b over the last axis with W [out, in]', () => {
    const lin = new Linear(4, 3);
    const w = normalArray(12, 7);
    const b = normalArray(3, 8);
    lin.loadStateDict({ weight: tf.tensor2d(w, [3, 4]), bias: tf.tensor1d(b) });
    tf.tidy(() => {
      const x = randn([2, 5, 4], 9);
      const y = lin.forward(x);
      expect(y.shape).toEqual([2, 5, 3]);
      const xv = x.dataSync();
      const want = new Float64Array(30);
      for (let r = 0; r < 10; r++) for (let o = 0; o < 3; o++) {
        let acc = b[o]!;
        for (let i = 0; i < 4; i++) acc += xv[r * 4 + i]! * w[o * 4 + i]!;
        want[r * 3 + o] = acc;
      }
      expectClose(y, want, { atol: 1e-5, rtol: 1e-5 });
    });
    const zero = new Linear(4, 2, { zeroInit: true, bias: false });
    expect([...zero.stateDictShapes().keys()]).toEqual(['weight']);
    expect(Array.from(zero.weight.value.dataSync())).toEqual(new Array(8).fill(0));
    lin.dispose();
    zero.dispose();
  });

  it('Linear gradients: dX = dY W, dW = dY^T X, db = column sums of dY (bias inside the product)', () => {
    const lin = new Linear(5, 3);
    const w = normalArray(15, 20);
    lin.loadStateDict({ weight: tf.tensor2d(w, [3, 5]), bias: tf.tensor1d(normalArray(3, 21)) });
    tf.tidy(() => {
      const x = randn([2, 4, 5], 22);
      const dy = randn([2, 4, 3], 23);
      const loss = (xx: tf.Tensor) => tf.sum(tf.mul(lin.forward(xx), dy)) as tf.Scalar;
      const dx = tf.grad(loss)(x);
      const { grads } = tf.variableGrads(() => loss(x), [lin.weight.value, lin.bias!.value]);
      const xv = x.dataSync();
      const dyv = dy.dataSync();
      const [wantDx, wantDw, wantDb] = [new Float64Array(40), new Float64Array(15), new Float64Array(3)];
      for (let r = 0; r < 8; r++)
        for (let o = 0; o < 3; o++) {
          wantDb[o] = wantDb[o]! + dyv[r * 3 + o]!;
          for (let i = 0; i < 5; i++) {
            wantDx[r * 5 + i] = wantDx[r * 5 + i]! + dyv[r * 3 + o]! * w[o * 5 + i]!;
            wantDw[o * 5 + i] = wantDw[o * 5 + i]! + dyv[r * 3 + o]! * xv[r * 5 + i]!;
          }
        }
      expect(dx.shape).toEqual([2, 4, 5]);
      expectClose(dx, wantDx, { atol: 1e-5, rtol: 1e-5 });
      expect(grads[lin.weight.value.name]!.shape).toEqual([3, 5]);
      expectClose(grads[lin.weight.value.name]!, wantDw, { atol: 1e-5, rtol: 1e-5 });
      expect(grads[lin.bias!.value.name]!.shape).toEqual([3]);
      expectClose(grads[lin.bias!.value.name]!, wantDb, { atol: 1e-5, rtol: 1e-5 });
    });
    lin.dispose();
  });

  it('GroupNorm on channels-last equals torch.nn.GroupNorm on the channels-first tensor', () => {
    const [n, c, t, h, w, groups, eps] = [2, 6, 2, 3, 2, 3, 1e-6];
    const gn = new GroupNorm(groups, c, { eps });
    const gamma = normalArray(c, 10, 0.2, 1);
    const beta = normalArray(c, 11, 0.1);
    gn.loadStateDict({ weight: tf.tensor1d(gamma), bias: tf.tensor1d(beta) });
    // PyTorch-layout input [N, C, T, H, W] and its GroupNorm by hand: groups of c/groups
    // consecutive channels, statistics over (channels of the group, T, H, W) per sample.
    const xt = normalArray(n * c * t * h * w, 12, 2, 0.5);
    const sp = t * h * w;
    const want = new Float64Array(xt.length);
    for (let s = 0; s < n; s++)
      for (let g = 0; g < groups; g++) {
        const idx: number[] = [];
        for (let ch = g * (c / groups); ch < (g + 1) * (c / groups); ch++) for (let q = 0; q < sp; q++) idx.push((s * c + ch) * sp + q);
        const mean = idx.reduce((a, i) => a + xt[i]!, 0) / idx.length;
        const variance = idx.reduce((a, i) => a + (xt[i]! - mean) ** 2, 0) / idx.length;
        for (const i of idx) {
          const ch = Math.floor(i / sp) % c;
          want[i] = ((xt[i]! - mean) / Math.sqrt(variance + eps)) * gamma[ch]! + beta[ch]!;
        }
      }
    tf.tidy(() => {
      const x = tf.transpose(tf.tensor(xt, [n, c, t, h, w]), [0, 2, 3, 4, 1]);
      const y = tf.transpose(gn.forward(x), [0, 4, 1, 2, 3]);
      expectClose(y, want, { atol: 1e-5, rtol: 1e-5 });
    });
    gn.dispose();
  });

  it('LayerNorm (with and without affine) and RMSNorm modules', () => {
    const ln = new LayerNorm(6, { eps: 1e-6 });
    const bare = new LayerNorm(6, { affine: false });
    const rms = new RMSNorm(6);
    expect([...bare.stateDictShapes().keys()]).toEqual([]);
    const g = normalArray(6, 13, 0.2, 1);
    const b = normalArray(6, 14);
    ln.loadStateDict({ weight: tf.tensor1d(g), bias: tf.tensor1d(b) });
    rms.loadStateDict({ weight: tf.tensor1d(g) });
    tf.tidy(() => {
      const x = randn([3, 6], 15, 2);
      const xv = x.dataSync();
      expectClose(ln.forward(x), layerNormRef(xv, 6, g, b, 1e-6), { atol: 1e-5, rtol: 1e-5 });
      expectClose(bare.forward(x), layerNormRef(xv, 6, null, null, 1e-5), { atol: 1e-5, rtol: 1e-5 });
      expectClose(rms.forward(x), rmsNormRef(xv, 6, g, 1e-6), { atol: 1e-5, rtol: 1e-5 });
    });
    [ln, bare, rms].forEach((m) => m.dispose());
  });

  it('GELU (tanh) and SiLU modules', () => {
    tf.tidy(() => {
      const x = randn([4, 5], 16, 2);
      const xv = x.dataSync();
      expectClose(new GELU().forward(x), geluTanhRef(xv), { atol: 1e-6, rtol: 1e-5 });
      expectClose(new SiLU().forward(x), Array.from(xv, (v) => v / (1 + Math.exp(-v))), { atol: 1e-6, rtol: 1e-5 });
    });
  });

  it('Dropout acts only in training mode, scaling kept values by 1/(1-p)', () => {
    const drop = new Dropout(0.5);
    tf.tidy(() => {
      const x = tf.ones([64, 64]);
      expect(drop.forward(x)).toBe(x); // eval (default): identity
      drop.train();
      const y = drop.forward(x, 7).dataSync();
      const zeros = y.filter((v) => v === 0).length;
      expect(y.every((v) => v === 0 || Math.abs(v - 2) < 1e-6)).toBe(true);
      expect(zeros / y.length).toBeGreaterThan(0.4);
      expect(zeros / y.length).toBeLessThan(0.6);
      drop.eval();
      expect(drop.forward(x)).toBe(x);
      const none = new Dropout(0).train();
      expect(none.forward(x)).toBe(x);
    });
  });
});
