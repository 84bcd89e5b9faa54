// Dense optical flow by pyramidal Lucas-Kanade (classical, no weights): at each pyramid level the
// second frame is warped by the current flow and a windowed least-squares step is solved per pixel,
// a few times, coarse to fine. Grey frames as Float32Array in [0, 1], row-major.

export interface GreyFrame {
  data: Float32Array;
  height: number;
  width: number;
}

export interface FlowField {
  /** Horizontal and vertical displacement (pixels), frame 0 -> frame 1. */
  u: Float32Array;
  v: Float32Array;
  height: number;
  width: number;
}

export interface FlowOptions {
  /** Pyramid levels (each halves the size). Default: as many as keep the short side >= 24, at most 4 (coarser levels add noise). */
  levels?: number;
  /** Lucas-Kanade window radius (a (2r+1)^2 box). */
  radius?: number;
  /** Warp-and-solve iterations per level. */
  iterations?: number;
}

/** RGB uint8 frame (HWC) -> grey in [0, 1], box-downscaled by an integer factor. */
export function toGrey(rgb: Uint8Array, height: number, width: number, factor = 1, offset = 0): GreyFrame {
  const h = Math.floor(height / factor);
  const w = Math.floor(width / factor);
  const out = new Float32Array(h * w);
  const norm = 1 / (255 * factor * factor);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (let dy = 0; dy < factor; dy++) {
        for (let dx = 0; dx < factor; dx++) {
          const o = offset + ((y * factor + dy) * width + x * factor + dx) * 3;
          s += 0.299 * rgb[o]! + 0.587 * rgb[o + 1]! + 0.114 * rgb[o + 2]!;
        }
      }
      out[y * w + x] = s * norm;
    }
  }
  return { data: out, height: h, width: w };
}

function downsample(f: GreyFrame): GreyFrame {
  const h = Math.max(1, Math.floor(f.height / 2));
  const w = Math.max(1, Math.floor(f.width / 2));
  const out = new Float32Array(h * w);
  const W = f.width;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const o = 2 * y * W + 2 * x;
      out[y * w + x] = 0.25 * (f.data[o]! + f.data[o + 1]! + f.data[o + W]! + f.data[o + W + 1]!);
    }
  }
  return { data: out, height: h, width: w };
}

function sample(f: GreyFrame, x: number, y: number): number {
  const W = f.width;
  const H = f.height;
  x = Math.min(Math.max(x, 0), W - 1);
  y = Math.min(Math.max(y, 0), H - 1);
  const x0 = Math.min(Math.floor(x), W - 2 < 0 ? 0 : W - 2);
  const y0 = Math.min(Math.floor(y), H - 2 < 0 ? 0 : H - 2);
  const x1 = Math.min(x0 + 1, W - 1);
  const y1 = Math.min(y0 + 1, H - 1);
  const fx = x - x0;
  const fy = y - y0;
  const d = f.data;
  return (d[y0 * W + x0]! * (1 - fx) + d[y0 * W + x1]! * fx) * (1 - fy) + (d[y1 * W + x0]! * (1 - fx) + d[y1 * W + x1]! * fx) * fy;
}

/** Box sum of radius r (clamped at the borders) via a summed-area table. */
function boxSum(a: Float32Array, h: number, w: number, r: number, out: Float32Array): void {
  const sat = new Float64Array((h + 1) * (w + 1));
  for (let y = 0; y < h; y++) {
    let row = 0;
    for (let x = 0; x < w; x++) {
      row += a[y * w + x]!;
      sat[(y + 1) * (w + 1) + x + 1] = sat[y * (w + 1) + x + 1]! + row;
    }
  }
  for (let y = 0; y < h; y++) {
    const y0 = Math.max(0, y - r);
    const y1 = Math.min(h, y + r + 1);
    for (let x = 0; x < w; x++) {
      const x0 = Math.max(0, x - r);
      const x1 = Math.min(w, x + r + 1);
      out[y * w + x] = sat[y1 * (w + 1) + x1]! - sat[y0 * (w + 1) + x1]! - sat[y1 * (w + 1) + x0]! + sat[y0 * (w + 1) + x0]!;
    }
  }
}

function lkLevel(f0: GreyFrame, f1: GreyFrame, u: Float32Array, v: Float32Array, radius: number, iterations: number): void {
  const { height: H, width: W } = f0;
  const n = H * W;
  const ix = new Float32Array(n);
  const iy = new Float32Array(n);
  const prods = [new Float32Array(n), new Float32Array(n), new Float32Array(n), new Float32Array(n), new Float32Array(n)];
  const sums = prods.map(() => new Float32Array(n));
  for (let it = 0; it < iterations; it++) {
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const k = y * W + x;
        const wx = x + u[k]!;
        const wy = y + v[k]!;
        // Gradients averaged over frame 0 and the warped frame 1 (more symmetric, steadier).
        const gx0 = 0.5 * (f0.data[y * W + Math.min(x + 1, W - 1)]! - f0.data[y * W + Math.max(x - 1, 0)]!);
        const gy0 = 0.5 * (f0.data[Math.min(y + 1, H - 1) * W + x]! - f0.data[Math.max(y - 1, 0) * W + x]!);
        const gx1 = 0.5 * (sample(f1, wx + 1, wy) - sample(f1, wx - 1, wy));
        const gy1 = 0.5 * (sample(f1, wx, wy + 1) - sample(f1, wx, wy - 1));
        const gx = 0.5 * (gx0 + gx1);
        const gy = 0.5 * (gy0 + gy1);
        const gt = sample(f1, wx, wy) - f0.data[k]!;
        ix[k] = gx;
        iy[k] = gy;
        prods[0]![k] = gx * gx;
        prods[1]![k] = gx * gy;
        prods[2]![k] = gy * gy;
        prods[3]![k] = gx * gt;
        prods[4]![k] = gy * gt;
      }
    }
    for (let p = 0; p < 5; p++) boxSum(prods[p]!, H, W, radius, sums[p]!);
    const reg = 1e-6 * (2 * radius + 1) ** 2;
    for (let k = 0; k < n; k++) {
      const a = sums[0]![k]! + reg;
      const b = sums[1]![k]!;
      const c = sums[2]![k]! + reg;
      const det = a * c - b * b;
      if (det <= 1e-12) continue;
      const du = -(c * sums[3]![k]! - b * sums[4]![k]!) / det;
      const dv = -(a * sums[4]![k]! - b * sums[3]![k]!) / det;
      // Clamp a step: an ill-posed pixel must not throw the flow off.
      u[k] = u[k]! + Math.max(-2, Math.min(2, du));
      v[k] = v[k]! + Math.max(-2, Math.min(2, dv));
    }
  }
}

/** Dense flow from `f0` to `f1` (same size). */
export function denseFlow(f0: GreyFrame, f1: GreyFrame, opts: FlowOptions = {}): FlowField {
  if (f0.height !== f1.height || f0.width !== f1.width) throw new Error(`denseFlow: frame sizes differ (${f0.height}x${f0.width} vs ${f1.height}x${f1.width}).`);
  let levels = opts.levels ?? 1;
  if (opts.levels === undefined) {
    let s = Math.min(f0.height, f0.width);
    while (levels < 4 && s / 2 >= 24) {
      s /= 2;
      levels++;
    }
  }
  const p0 = [f0];
  const p1 = [f1];
  for (let l = 1; l < levels; l++) {
    p0.push(downsample(p0[l - 1]!));
    p1.push(downsample(p1[l - 1]!));
  }
  let u = new Float32Array(p0[levels - 1]!.height * p0[levels - 1]!.width);
  let v = new Float32Array(u.length);
  for (let l = levels - 1; l >= 0; l--) {
    const g = p0[l]!;
    if (l < levels - 1) {
      // Upsample the coarser flow (nearest, x2 values).
      const c = p0[l + 1]!;
      const nu = new Float32Array(g.height * g.width);
      const nv = new Float32Array(nu.length);
      for (let y = 0; y < g.height; y++) {
        const cy = Math.min(c.height - 1, y >> 1);
        for (let x = 0; x < g.width; x++) {
          const cx = Math.min(c.width - 1, x >> 1);
          nu[y * g.width + x] = 2 * u[cy * c.width + cx]!;
          nv[y * g.width + x] = 2 * v[cy * c.width + cx]!;
        }
      }
      u = nu;
      v = nv;
    }
    lkLevel(g, p1[l]!, u, v, opts.radius ?? 3, opts.iterations ?? 4);
  }
  return { u, v, height: f0.height, width: f0.width };
}
