// Naive float64 reference implementations for tests: straightforward loops written from the
// PyTorch definitions, independent of the tf composites and the fused kernels they check.

type Arr = ArrayLike<number>;

/** LayerNorm over the last axis (two-pass mean/variance, biased). */
export function layerNormRef(x: Arr, c: number, gamma: Arr | null, beta: Arr | null, eps: number): Float64Array {
  const rows = x.length / c;
  const y = new Float64Array(x.length);
  for (let r = 0; r < rows; r++) {
    let mean = 0;
    for (let i = 0; i < c; i++) mean += x[r * c + i]!;
    mean /= c;
    let v = 0;
    for (let i = 0; i < c; i++) v += (x[r * c + i]! - mean) ** 2;
    v /= c;
    for (let i = 0; i < c; i++) {
      const h = (x[r * c + i]! - mean) / Math.sqrt(v + eps);
      y[r * c + i] = h * (gamma ? gamma[i]! : 1) + (beta ? beta[i]! : 0);
    }
  }
  return y;
}

/**
 * torch.nn.GroupNorm semantics on a channels-last [N, ...spatial, C] buffer: the channels-first
 * tensor [N, C, ...spatial] is normalised per (n, group of C/groups consecutive channels).
 */
export function groupNormRef(x: Arr, n: number, c: number, groups: number, gamma: Arr | null, beta: Arr | null, eps: number): Float64Array {
  const p = x.length / (n * c);
  const cg = c / groups;
  const y = new Float64Array(x.length);
  const at = (s: number, q: number, ch: number) => (s * p + q) * c + ch;
  for (let s = 0; s < n; s++) {
    for (let g = 0; g < groups; g++) {
      let mean = 0;
      for (let q = 0; q < p; q++) for (let j = 0; j < cg; j++) mean += x[at(s, q, g * cg + j)]!;
      mean /= p * cg;
      let v = 0;
      for (let q = 0; q < p; q++) for (let j = 0; j < cg; j++) v += (x[at(s, q, g * cg + j)]! - mean) ** 2;
      v /= p * cg;
      for (let q = 0; q < p; q++) {
        for (let j = 0; j < cg; j++) {
          const ch = g * cg + j;
          const h = (x[at(s, q, ch)]! - mean) / Math.sqrt(v + eps);
          y[at(s, q, ch)] = h * (gamma ? gamma[ch]! : 1) + (beta ? beta[ch]! : 0);
        }
      }
    }
  }
  return y;
}

export function rmsNormRef(x: Arr, c: number, gamma: Arr | null, eps: number): Float64Array {
  const y = new Float64Array(x.length);
  for (let r = 0; r < x.length / c; r++) {
    let ms = 0;
    for (let i = 0; i < c; i++) ms += x[r * c + i]! ** 2;
    ms /= c;
    for (let i = 0; i < c; i++) y[r * c + i] = (x[r * c + i]! / Math.sqrt(ms + eps)) * (gamma ? gamma[i]! : 1);
  }
  return y;
}

export function geluTanhRef(x: Arr): Float64Array {
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    y[i] = 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
  }
  return y;
}

export interface AttentionRefOptions {
  /** [B, Nk] (1 = attend), or [B, Nq, Nk]. */
  keyMask?: Arr | null;
  keyMaskRank?: 2 | 3;
  causal?: boolean;
  scale?: number;
}

/** softmax(q k^T * scale + mask) v, q [B,H,Nq,D], k [B,H,Nk,D], v [B,H,Nk,Dv]; rows with no allowed key give NaN (as torch). */
export function attentionRef(
  q: Arr,
  k: Arr,
  v: Arr,
  dims: { b: number; h: number; nq: number; nk: number; d: number; dv: number },
  options: AttentionRefOptions = {},
): Float64Array {
  const { b, h, nq, nk, d, dv } = dims;
  const scale = options.scale ?? 1 / Math.sqrt(d);
  const out = new Float64Array(b * h * nq * dv);
  const s = new Float64Array(nk);
  for (let bi = 0; bi < b; bi++) {
    for (let hi = 0; hi < h; hi++) {
      const bh = bi * h + hi;
      for (let i = 0; i < nq; i++) {
        let max = -Infinity;
        for (let j = 0; j < nk; j++) {
          let allowed = true;
          if (options.keyMask) {
            const m = options.keyMaskRank === 3 ? options.keyMask[(bi * nq + i) * nk + j]! : options.keyMask[bi * nk + j]!;
            allowed = m !== 0;
          }
          if (options.causal && j > i) allowed = false;
          let dot = 0;
          for (let t = 0; t < d; t++) dot += q[(bh * nq + i) * d + t]! * k[(bh * nk + j) * d + t]!;
          s[j] = allowed ? dot * scale : -Infinity;
          if (s[j]! > max) max = s[j]!;
        }
        let z = 0;
        for (let j = 0; j < nk; j++) {
          s[j] = Math.exp(s[j]! - max);
          z += s[j]!;
        }
        for (let t = 0; t < dv; t++) {
          let acc = 0;
          for (let j = 0; j < nk; j++) acc += (s[j]! / z) * v[(bh * nk + j) * dv + t]!;
          out[(bh * nq + i) * dv + t] = acc;
        }
      }
    }
  }
  return out;
}

/**
 * PyTorch Conv3d (cross-correlation) on channels-last input [B, T, H, W, Cin] with a
 * PyTorch-layout weight [Cout, Cin, kT, kH, kW], symmetric zero padding and stride; output
 * channels-last [B, To, Ho, Wo, Cout].
 */
export function conv3dTorchRef(
  x: Arr,
  xShape: [number, number, number, number, number],
  weight: Arr,
  wShape: [number, number, number, number, number],
  bias: Arr | null,
  stride: [number, number, number],
  padding: [number, number, number],
): { data: Float64Array; shape: [number, number, number, number, number] } {
  const [b, t, h, w, cin] = xShape;
  const [cout, cin2, kt, kh, kw] = wShape;
  if (cin !== cin2) throw new Error('conv3dTorchRef: channel mismatch');
  const to = Math.floor((t + 2 * padding[0] - kt) / stride[0]) + 1;
  const ho = Math.floor((h + 2 * padding[1] - kh) / stride[1]) + 1;
  const wo = Math.floor((w + 2 * padding[2] - kw) / stride[2]) + 1;
  const out = new Float64Array(b * to * ho * wo * cout);
  for (let bi = 0; bi < b; bi++)
    for (let ot = 0; ot < to; ot++)
      for (let oh = 0; oh < ho; oh++)
        for (let ow = 0; ow < wo; ow++)
          for (let co = 0; co < cout; co++) {
            let acc = bias ? bias[co]! : 0;
            for (let ci = 0; ci < cin; ci++)
              for (let a = 0; a < kt; a++)
                for (let c = 0; c < kh; c++)
                  for (let e = 0; e < kw; e++) {
                    const it = ot * stride[0] - padding[0] + a;
                    const ih = oh * stride[1] - padding[1] + c;
                    const iw = ow * stride[2] - padding[2] + e;
                    if (it < 0 || it >= t || ih < 0 || ih >= h || iw < 0 || iw >= w) continue;
                    const xv = x[(((bi * t + it) * h + ih) * w + iw) * cin + ci]!;
                    const wv = weight[(((co * cin + ci) * kt + a) * kh + c) * kw + e]!;
                    acc += xv * wv;
                  }
            out[(((bi * to + ot) * ho + oh) * wo + ow) * cout + co] = acc;
          }
  return { data: out, shape: [b, to, ho, wo, cout] };
}
