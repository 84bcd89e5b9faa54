// The two resamplers the reference's `resize_crop` uses: torch bilinear (align_corners=False, no
// antialias) for video tensors and PIL's BICUBIC (antialiased, 8-bit fixed point) for images.
// Frames are interleaved RGB (HWC), one frame at a time.

/** Python's round(): halves go to the even neighbour. */
export function pyRound(x: number): number {
  const r = Math.round(x);
  return Math.abs(x - Math.trunc(x)) === 0.5 ? 2 * Math.round(x / 2) : r;
}

/** torch.nn.functional.interpolate(mode="bilinear", align_corners=False) of one HWC float frame. */
export function resizeBilinear(src: Float32Array, h: number, w: number, c: number, oh: number, ow: number, out = new Float32Array(oh * ow * c)): Float32Array {
  const sy = h / oh;
  const sx = w / ow;
  const x0 = new Int32Array(ow);
  const x1 = new Int32Array(ow);
  const lx = new Float64Array(ow);
  for (let x = 0; x < ow; x++) {
    const s = Math.max((x + 0.5) * sx - 0.5, 0);
    const i = Math.floor(s);
    x0[x] = i;
    x1[x] = Math.min(i + 1, w - 1);
    lx[x] = s - i;
  }
  for (let y = 0; y < oh; y++) {
    const s = Math.max((y + 0.5) * sy - 0.5, 0);
    const y0 = Math.floor(s);
    const y1 = Math.min(y0 + 1, h - 1);
    const ly = s - y0;
    const r0 = y0 * w * c;
    const r1 = y1 * w * c;
    for (let x = 0; x < ow; x++) {
      const a = x0[x]! * c;
      const b = x1[x]! * c;
      const l = lx[x]!;
      const o = (y * ow + x) * c;
      for (let k = 0; k < c; k++) {
        const top = src[r0 + a + k]! * (1 - l) + src[r0 + b + k]! * l;
        const bot = src[r1 + a + k]! * (1 - l) + src[r1 + b + k]! * l;
        out[o + k] = top * (1 - ly) + bot * ly;
      }
    }
  }
  return out;
}

const PRECISION_BITS = 32 - 8 - 2;
const ONE = 2 ** PRECISION_BITS;

function bicubic(x: number): number {
  const a = -0.5;
  if (x < 0) x = -x;
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

interface Coeffs {
  ksize: number;
  bounds: Int32Array; // [xmin, count] per output
  kk: Int32Array; // fixed-point weights, ksize per output
}

function precompute(inSize: number, outSize: number): Coeffs {
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = 2 * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const kk = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const ss = 1 / filterscale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const v = bicubic((x + xmin - center + 0.5) * ss);
      k[x] = v;
      ww += v;
    }
    for (let x = 0; x < xmax; x++) {
      const v = ww !== 0 ? k[x]! / ww : k[x]!;
      kk[xx * ksize + x] = v < 0 ? Math.trunc(-0.5 + v * ONE) : Math.trunc(0.5 + v * ONE);
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { ksize, bounds, kk };
}

const clip8 = (ss: number) => {
  const v = Math.floor(ss / ONE);
  return v < 0 ? 0 : v > 255 ? 255 : v;
};

/** PIL `Image.resize((ow, oh), BICUBIC)` of an 8-bit HWC frame (horizontal pass, then vertical). */
export function resizeBicubicPil(src: Uint8Array, h: number, w: number, c: number, oh: number, ow: number): Uint8Array {
  let cur = src;
  let cw = w;
  if (ow !== w) {
    const { ksize, bounds, kk } = precompute(w, ow);
    const out = new Uint8Array(h * ow * c);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < ow; x++) {
        const xmin = bounds[x * 2]!;
        const n = bounds[x * 2 + 1]!;
        for (let ch = 0; ch < c; ch++) {
          let ss = ONE / 2;
          for (let i = 0; i < n; i++) ss += cur[(y * cw + xmin + i) * c + ch]! * kk[x * ksize + i]!;
          out[(y * ow + x) * c + ch] = clip8(ss);
        }
      }
    }
    cur = out;
    cw = ow;
  }
  if (oh !== h) {
    const { ksize, bounds, kk } = precompute(h, oh);
    const out = new Uint8Array(oh * cw * c);
    for (let y = 0; y < oh; y++) {
      const ymin = bounds[y * 2]!;
      const n = bounds[y * 2 + 1]!;
      for (let x = 0; x < cw; x++) {
        for (let ch = 0; ch < c; ch++) {
          let ss = ONE / 2;
          for (let i = 0; i < n; i++) ss += cur[((ymin + i) * cw + x) * c + ch]! * kk[y * ksize + i]!;
          out[(y * cw + x) * c + ch] = clip8(ss);
        }
      }
    }
    cur = out;
  }
  return cur === src ? src.slice() : cur;
}
