// The window layout STDiT3's temporal blocks rely on (kernels' windowPartition/windowMerge),
// checked against a direct transcription of the reference algorithm: right-pad H, W to
// multiples of the window (plus k//2 before and k-k//2 after when shifted), split H-window major,
// W-window minor, window w of sample b -> row w*B + b, tokens (h_local, w_local, t).
import { beforeAll, describe, expect, it } from 'vitest';
import { initRuntime, tf, windowMerge, windowPartition } from '@opensora-ts/kernels';
import { STDiT3 } from './stdit3.js';
import type { STDiT3ConfigInput } from './config.js';

beforeAll(async () => {
  await initRuntime({ announce: false });
});

/** Reference windows as nested arrays: [row][token] = value or null (padding). */
function referenceWindows(x: number[][][][], kh: number, kw: number, shift: boolean): (number | null)[][] {
  const b = x.length;
  const h = x[0]!.length;
  const w = x[0]![0]!.length;
  const t = x[0]![0]![0]!.length;
  const lead = (k: number) => (shift ? Math.floor(k / 2) : 0);
  const total = (n: number, k: number) => n + ((k - (n % k)) % k) + (shift ? k : 0);
  const hp = total(h, kh);
  const wp = total(w, kw);
  const rows: (number | null)[][] = [];
  for (let ih = 0; ih < hp / kh; ih++) {
    for (let iw = 0; iw < wp / kw; iw++) {
      for (let s = 0; s < b; s++) {
        const win: (number | null)[] = [];
        for (let a = 0; a < kh; a++) {
          for (let c = 0; c < kw; c++) {
            const r = ih * kh + a - lead(kh);
            const q = iw * kw + c - lead(kw);
            for (let k = 0; k < t; k++) win.push(r >= 0 && r < h && q >= 0 && q < w ? x[s]![r]![q]![k]! : null);
          }
        }
        rows.push(win);
      }
    }
  }
  return rows;
}

for (const shift of [false, true]) {
  describe(`windowPartition ${shift ? 'shifted' : 'unshifted'}`, () => {
    it('matches the reference order, mask and merge', () => {
      const [b, h, w, t, kh, kw] = [2, 6, 10, 3, 4, 4];
      const x = tf.tidy(() => tf.reshape(tf.add(tf.range(0, b * h * w * t), 1), [b, h, w, t, 1]));
      const ref = referenceWindows(x.reshape([b, h, w, t]).arraySync() as number[][][][], kh, kw, shift);
      const part = windowPartition(x, [kh, kw], { shift });
      const got = part.windows.reshape([part.windows.shape[0], -1]).arraySync() as number[][];
      const mask = part.keyMask.arraySync() as number[][];
      // Windows holding real tokens come first per axis in both layouts; the reference's extra
      // all-padding windows (shifted case) are computed there and then discarded.
      const nhK = part.layout.hp / kh;
      const nwK = part.layout.wp / kw;
      const nwR = (w + ((kw - (w % kw)) % kw) + (shift ? kw : 0)) / kw;
      for (let ih = 0; ih < nhK; ih++) {
        for (let iw = 0; iw < nwK; iw++) {
          for (let s = 0; s < b; s++) {
            const r = ref[(ih * nwR + iw) * b + s]!;
            const k = (ih * nwK + iw) * b + s;
            expect(got[k]).toEqual(r.map((v) => v ?? 0));
            expect(mask[k]).toEqual(r.map((v) => (v === null ? 0 : 1)));
          }
        }
      }
      const realRef = ref.filter((win) => win.some((v) => v !== null)).length;
      expect(realRef).toBe(nhK * nwK * b);
      const back = windowMerge(part.windows, part.layout);
      expect(back.arraySync()).toEqual(x.arraySync());
      tf.dispose([x, part.windows, part.keyMask, back]);
    });
  });
}

describe('STDiT3 window options', () => {
  const base: STDiT3ConfigInput = { depth: 1, hidden_size: 48, num_heads: 2, caption_channels: 8, model_max_length: 4, kernel_size: [2, 2, -1], use_spatial_rope: true };
  const run = (cfg: STDiT3ConfigInput) => {
    const model = new STDiT3(cfg, { referenceInit: false, seed: 21 });
    const out = tf.tidy(() =>
      model.forward({
        x: tf.randomNormal([1, 16, 2, 6, 6], 0, 1, 'float32', 1),
        timestep: 300,
        y: tf.randomNormal([1, 1, 4, 8], 0, 1, 'float32', 2),
        fps: 24,
        height: 48,
        width: 48,
      }),
    );
    model.dispose();
    const data = Float32Array.from(out.dataSync());
    out.dispose();
    return data;
  };

  it('shift_window changes the temporal windows (and stays finite)', () => {
    const plain = run(base);
    const shifted = run({ ...base, shift_window: true });
    expect(shifted.every(Number.isFinite)).toBe(true);
    const diff = plain.reduce((m, v, i) => Math.max(m, Math.abs(v - shifted[i]!)), 0);
    expect(diff).toBeGreaterThan(1e-3);
  });

  it('kernel_size null runs the 1.2-style per-pixel temporal attention', () => {
    const out = run({ ...base, kernel_size: null, use_spatial_rope: false });
    expect(out.length).toBe(32 * 2 * 6 * 6);
    expect(out.every(Number.isFinite)).toBe(true);
  });
});
