import { expect, it } from 'vitest';
import { tf } from '../tf.js';
import { describeEachBackend } from '../testing/backends.js';
import { expectClose } from '../testing/assert.js';
import { checkGradients } from '../testing/gradcheck.js';
import { randn } from '../testing/random.js';
import { causalPad3d, modulate, toChannelsFirst, toChannelsLast, upsampleNearest3d } from './video.js';

describeEachBackend('video layout ops', () => {
  it('causalPad3d adds zero frames in front only, and symmetric H/W zeros', () => {
    tf.tidy(() => {
      const [b, t, h, w, c] = [1, 2, 2, 3, 2];
      const x = randn([b, t, h, w, c], 1);
      const y = causalPad3d(x as tf.Tensor5D, 2, 1, 1);
      expect(y.shape).toEqual([1, 4, 4, 5, 2]);
      const xv = x.dataSync();
      const yv = y.dataSync();
      const want = new Float32Array(yv.length);
      for (let tt = 0; tt < t; tt++)
        for (let hh = 0; hh < h; hh++)
          for (let ww = 0; ww < w; ww++)
            for (let ch = 0; ch < c; ch++) want[(((tt + 2) * 4 + hh + 1) * 5 + ww + 1) * c + ch] = xv[((tt * h + hh) * w + ww) * c + ch]!;
      expectClose(yv, want, { atol: 0, rtol: 0 });
      const same = causalPad3d(x as tf.Tensor5D, 0, 0, 0);
      expect(same).not.toBe(x); // a copy, so callers may dispose either
      expectClose(same, x, { atol: 0, rtol: 0 });
    });
  });

  it('upsampleNearest3d repeats each voxel ft x fh x fw times', () => {
    tf.tidy(() => {
      const [b, t, h, w, c] = [2, 2, 2, 3, 2];
      const x = randn([b, t, h, w, c], 2);
      const f = [2, 3, 2] as [number, number, number];
      const y = upsampleNearest3d(x as tf.Tensor5D, f);
      expect(y.shape).toEqual([b, t * 2, h * 3, w * 2, c]);
      const xv = x.dataSync();
      const want = new Float32Array(y.size);
      const [T, H, W] = [t * 2, h * 3, w * 2];
      for (let s = 0; s < b; s++)
        for (let tt = 0; tt < T; tt++)
          for (let hh = 0; hh < H; hh++)
            for (let ww = 0; ww < W; ww++)
              for (let ch = 0; ch < c; ch++)
                want[((((s * T + tt) * H + hh) * W + ww) * c) + ch] = xv[((((s * t + Math.floor(tt / 2)) * h + Math.floor(hh / 3)) * w + Math.floor(ww / 2)) * c) + ch]!;
      expectClose(y, want, { atol: 0, rtol: 0 });
    });
  });

  it('upsampleNearest3d frees each repeat step once the next exists (peak at most 16x the input bytes; 29x when they lived to the end)', async () => {
    // Issue 34: at a VAE's frame sizes each step is hundreds of MB; all three lived to the end of the tidy.
    const x = randn([1, 2, 4, 4, 8], 7) as tf.Tensor5D;
    const start = tf.memory().numBytes;
    const p = await tf.profile(() => tf.dispose(upsampleNearest3d(x, [2, 2, 2])));
    expect(p.peakBytes - start).toBeLessThanOrEqual(16 * x.size * 4);
    x.dispose();
  });

  it('upsampleNearest3d has a gradient: each input voxel collects the sum over its copies', () => {
    tf.tidy(() => {
      const x = randn([1, 2, 2, 2, 3], 5) as tf.Tensor5D;
      const dy = randn([1, 4, 4, 6, 3], 6);
      const dx = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(upsampleNearest3d(v as tf.Tensor5D, [2, 2, 3]), dy)))(x);
      // Sum dy over each 2x2x3 block of copies.
      const want = tf.sum(tf.reshape(dy, [1, 2, 2, 2, 2, 2, 3, 3]), [2, 4, 6]);
      expectClose(dx, want.dataSync() as Float32Array, { atol: 1e-5, rtol: 1e-5 });
    });
  });

  it('modulate is x * (1 + scale) + shift, broadcast over tokens', () => {
    const x = randn([2, 3, 4], 3);
    const shift = randn([2, 1, 4], 4);
    const scale = randn([2, 1, 4], 5);
    tf.tidy(() => {
      const [xv, sv, cv] = [x.dataSync(), shift.dataSync(), scale.dataSync()];
      const want = Array.from(xv, (v, i) => {
        const b = Math.floor(i / 12);
        const ch = i % 4;
        return v * (1 + cv[b * 4 + ch]!) + sv[b * 4 + ch]!;
      });
      expectClose(modulate(x, shift, scale), want, { atol: 1e-6, rtol: 1e-6 });
    });
    checkGradients((a, s, c) => modulate(a!, s!, c!), [x, shift, scale], { what: 'modulate' });
    tf.dispose([x, shift, scale]);
  });

  it('toChannelsLast / toChannelsFirst convert between PyTorch NCDHW and NDHWC', () => {
    tf.tidy(() => {
      const x = randn([1, 3, 2, 2, 2], 6);
      const last = toChannelsLast(x);
      expect(last.shape).toEqual([1, 2, 2, 2, 3]);
      // element [0, c=2, t=1, h=0, w=1] of the PyTorch tensor
      expect(last.arraySync() as number[][][][][]).toSatisfy((a: number[][][][][]) => a[0]![1]![0]![1]![2] === (x.arraySync() as number[][][][][])[0]![2]![1]![0]![1]);
      expectClose(toChannelsFirst(last), x, { atol: 0, rtol: 0 });
    });
  });
});
