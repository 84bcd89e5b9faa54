import { expect, it } from 'vitest';
import { tf } from '../tf.js';
import { describeEachBackend } from '../testing/backends.js';
import { expectClose } from '../testing/assert.js';
import { randn } from '../testing/random.js';
import { windowMerge, windowPartition } from './window.js';

/** The partition by hand: window (i, j) of sample b is row (i*nw + j)*B + b, tokens (h_local, w_local, t). */
function partitionByHand(x: Float32Array, [b, h, w, t, c]: number[], kh: number, kw: number, shift: boolean) {
  const sh = shift ? Math.floor(kh / 2) : 0;
  const sw = shift ? Math.floor(kw / 2) : 0;
  const nh = Math.ceil((h! + sh) / kh);
  const nw = Math.ceil((w! + sw) / kw);
  const tokens = kh * kw * t!;
  const windows = new Float32Array(nh * nw * b! * tokens * c!);
  const mask = new Float32Array(nh * nw * b! * tokens);
  for (let i = 0; i < nh; i++)
    for (let j = 0; j < nw; j++)
      for (let s = 0; s < b!; s++)
        for (let hl = 0; hl < kh; hl++)
          for (let wl = 0; wl < kw; wl++)
            for (let tt = 0; tt < t!; tt++) {
              const row = (i * nw + j) * b! + s;
              const tok = (hl * kw + wl) * t! + tt;
              const hh = i * kh + hl - sh;
              const ww = j * kw + wl - sw;
              if (hh < 0 || hh >= h! || ww < 0 || ww >= w!) continue;
              mask[row * tokens + tok] = 1;
              for (let ch = 0; ch < c!; ch++) windows[(row * tokens + tok) * c! + ch] = x[((((s * h! + hh) * w! + ww) * t! + tt) * c!) + ch]!;
            }
  return { windows, mask, shape: [nh * nw * b!, tokens, c!] };
}

const cases: { shape: number[]; kernel: [number, number]; shift?: boolean }[] = [
  { shape: [2, 4, 4, 3, 2], kernel: [2, 2] }, // exact fit
  { shape: [2, 5, 3, 2, 3], kernel: [2, 2] }, // padding on both H and W
  { shape: [1, 3, 7, 2, 2], kernel: [8, 8] }, // window larger than the frame
  { shape: [2, 3, 5, 2, 2], kernel: [-1, 2] }, // -1: the whole axis
  { shape: [2, 5, 6, 2, 2], kernel: [4, 4], shift: true }, // Swin-style shift
  { shape: [1, 4, 4, 1, 1], kernel: [2, 2], shift: true },
];

describeEachBackend('windowPartition / windowMerge', () => {
  for (const c of cases) {
    it(`partitions [${c.shape.join(',')}] into ${c.kernel.join('x')} windows${c.shift ? ' (shifted)' : ''} with a key mask`, () => {
      tf.tidy(() => {
        const x = randn(c.shape, c.shape.reduce((a, b) => a + b, 0));
        const kh = c.kernel[0] < 0 ? c.shape[1]! : c.kernel[0];
        const kw = c.kernel[1] < 0 ? c.shape[2]! : c.kernel[1];
        const part = windowPartition(x, c.kernel, { shift: c.shift });
        const want = partitionByHand(x.dataSync() as Float32Array, c.shape, kh, kw, Boolean(c.shift));
        expect(part.windows.shape).toEqual(want.shape);
        expect(part.keyMask.shape).toEqual(want.shape.slice(0, 2));
        expectClose(part.windows, want.windows, { atol: 0, rtol: 0, what: 'windows' });
        expectClose(part.keyMask, want.mask, { atol: 0, rtol: 0, what: 'key mask' });
        const back = windowMerge(part.windows, part.layout);
        expect(back.shape).toEqual(c.shape);
        expectClose(back, x, { atol: 0, rtol: 0, what: 'round trip' });
      });
    });
  }

  it('keeps no tensors', () => {
    const x = randn([1, 5, 5, 2, 2], 9);
    const before = tf.memory().numTensors;
    const part = windowPartition(x, [2, 2], { shift: true });
    const back = windowMerge(part.windows, part.layout);
    tf.dispose([part.windows, part.keyMask, back]);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });
});
