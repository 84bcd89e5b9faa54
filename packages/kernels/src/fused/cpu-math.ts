// The fused ops as plain loops over typed arrays, forward and backward. No tfjs here: the cpu
// kernels wrap these, and a test can call them directly. Statistics accumulate in float64
// (JS numbers) in one pass (sum and sum of squares), which for float32 data stays exact enough
// unless |mean|/std exceeds ~1e6.

export type Values = ArrayLike<number>;

/** Per-row (or per-group) mean and 1/sqrt(var + eps), biased variance as PyTorch's norms. */
function rstdOf(sum: number, sumSq: number, n: number, eps: number): [number, number] {
  const mean = sum / n;
  let variance = sumSq / n - mean * mean;
  if (variance < 0) variance = 0;
  return [mean, 1 / Math.sqrt(variance + eps)];
}

/** Mean and rstd of the `c` values of x starting at `off` (one LayerNorm row). */
function rowMoments(x: Values, off: number, c: number, eps: number): [number, number] {
  let s = 0;
  let ss = 0;
  for (let i = 0; i < c; i++) {
    const v = x[off + i]!;
    s += v;
    ss += v * v;
  }
  return rstdOf(s, ss, c, eps);
}

/** Adds one position's `groups * cg` channel values (from `off`) into the per-group sums. */
function addGroupSums(x: Values, off: number, groups: number, cg: number, sum: Float64Array, sumSq: Float64Array): void {
  for (let g = 0, ch = off; g < groups; g++) {
    let s1 = 0;
    let s2 = 0;
    for (let j = 0; j < cg; j++, ch++) {
      const v = x[ch]!;
      s1 += v;
      s2 += v * v;
    }
    sum[g] = sum[g]! + s1;
    sumSq[g] = sumSq[g]! + s2;
  }
}

/** LayerNorm over the last axis of `rows` rows of `c` values. */
export function layerNormForward(x: Values, rows: number, c: number, gamma: Values | null, beta: Values | null, eps: number): Float32Array {
  const y = new Float32Array(rows * c);
  for (let r = 0, off = 0; r < rows; r++, off += c) {
    const [mean, rstd] = rowMoments(x, off, c, eps);
    if (gamma && beta) for (let i = 0; i < c; i++) y[off + i] = (x[off + i]! - mean) * rstd * gamma[i]! + beta[i]!;
    else if (gamma) for (let i = 0; i < c; i++) y[off + i] = (x[off + i]! - mean) * rstd * gamma[i]!;
    else if (beta) for (let i = 0; i < c; i++) y[off + i] = (x[off + i]! - mean) * rstd + beta[i]!;
    else for (let i = 0; i < c; i++) y[off + i] = (x[off + i]! - mean) * rstd;
  }
  return y;
}

export interface NormGrads {
  dx: Float32Array;
  /** Present when gamma was given. */
  dgamma: Float32Array | null;
  /** Present when asked for (hasBeta). */
  dbeta: Float32Array | null;
}

/**
 * LayerNorm backward: with g = dy*gamma and xhat = (x-mean)*rstd,
 * dx = rstd * (g - mean(g) - xhat * mean(g*xhat)); dgamma = sum_rows dy*xhat; dbeta = sum_rows dy.
 */
export function layerNormBackward(
  dy: Values,
  x: Values,
  rows: number,
  c: number,
  gamma: Values | null,
  wantBeta: boolean,
  eps: number,
): NormGrads {
  const dx = new Float32Array(rows * c);
  const dg = gamma ? new Float64Array(c) : null;
  const db = wantBeta ? new Float64Array(c) : null;
  for (let r = 0, off = 0; r < rows; r++, off += c) {
    const [mean, rstd] = rowMoments(x, off, c, eps);
    let sg = 0;
    let sgx = 0;
    for (let i = 0; i < c; i++) {
      const d = dy[off + i]!;
      const xh = (x[off + i]! - mean) * rstd;
      const g = gamma ? d * gamma[i]! : d;
      sg += g;
      sgx += g * xh;
      if (dg) dg[i] = dg[i]! + d * xh;
      if (db) db[i] = db[i]! + d;
    }
    const mg = sg / c;
    const mgx = sgx / c;
    for (let i = 0; i < c; i++) {
      const xh = (x[off + i]! - mean) * rstd;
      const g = gamma ? dy[off + i]! * gamma[i]! : dy[off + i]!;
      dx[off + i] = rstd * (g - mg - xh * mgx);
    }
  }
  return { dx, dgamma: dg ? Float32Array.from(dg) : null, dbeta: db ? Float32Array.from(db) : null };
}

/**
 * GroupNorm on channels-last data: `n` samples of `p` positions x `c` channels; statistics per
 * (sample, group) over p * c/groups values, as torch.nn.GroupNorm on the channels-first tensor.
 */
export function groupNormForward(
  x: Values,
  n: number,
  p: number,
  c: number,
  groups: number,
  gamma: Values | null,
  beta: Values | null,
  eps: number,
): Float32Array {
  const y = new Float32Array(n * p * c);
  const cg = c / groups;
  const m = p * cg;
  const sum = new Float64Array(groups);
  const sumSq = new Float64Array(groups);
  // y = x * a[c] + b[c] per sample: the group statistics folded into one scale and shift per channel.
  const a = new Float64Array(c);
  const b = new Float64Array(c);
  for (let s = 0; s < n; s++) {
    const base = s * p * c;
    sum.fill(0);
    sumSq.fill(0);
    for (let off = base; off < base + p * c; off += c) addGroupSums(x, off, groups, cg, sum, sumSq);
    for (let g = 0; g < groups; g++) {
      const [mean, rstd] = rstdOf(sum[g]!, sumSq[g]!, m, eps);
      for (let j = 0; j < cg; j++) {
        const ch = g * cg + j;
        const sc = gamma ? rstd * gamma[ch]! : rstd;
        a[ch] = sc;
        b[ch] = (beta ? beta[ch]! : 0) - mean * sc;
      }
    }
    const end = base + p * c;
    for (let off = base; off < end; off += c) {
      for (let ch = 0; ch < c; ch++) y[off + ch] = x[off + ch]! * a[ch]! + b[ch]!;
    }
  }
  return y;
}

/** GroupNorm backward: the LayerNorm formula per (sample, group) over its m = p*c/groups values. */
export function groupNormBackward(
  dy: Values,
  x: Values,
  n: number,
  p: number,
  c: number,
  groups: number,
  gamma: Values | null,
  wantBeta: boolean,
  eps: number,
): NormGrads {
  const dx = new Float32Array(n * p * c);
  const dg = gamma ? new Float64Array(c) : null;
  const db = wantBeta ? new Float64Array(c) : null;
  const cg = c / groups;
  const m = p * cg;
  const sum = new Float64Array(groups);
  const sumSq = new Float64Array(groups);
  const mean = new Float64Array(groups);
  const rstd = new Float64Array(groups);
  // Per-channel partial sums of dy and dy*x over one sample; folded into groups afterwards.
  const sdy = new Float64Array(c);
  const sdyx = new Float64Array(c);
  const k1 = new Float64Array(c);
  const k2 = new Float64Array(c);
  const k3 = new Float64Array(c);
  for (let s = 0; s < n; s++) {
    const base = s * p * c;
    const end = base + p * c;
    sum.fill(0);
    sumSq.fill(0);
    sdy.fill(0);
    sdyx.fill(0);
    for (let off = base; off < end; off += c) {
      for (let ch = 0; ch < c; ch++) {
        const v = x[off + ch]!;
        const d = dy[off + ch]!;
        sdy[ch] = sdy[ch]! + d;
        sdyx[ch] = sdyx[ch]! + d * v;
      }
      addGroupSums(x, off, groups, cg, sum, sumSq);
    }
    for (let g = 0; g < groups; g++) [mean[g], rstd[g]] = rstdOf(sum[g]!, sumSq[g]!, m, eps);
    // With xhat = (x - mean) * rstd: sum(dy*xhat) per channel = rstd * (sum(dy*x) - mean*sum(dy)).
    for (let g = 0; g < groups; g++) {
      const mu = mean[g]!;
      const rs = rstd[g]!;
      let sg = 0;
      let sgx = 0;
      for (let j = 0; j < cg; j++) {
        const ch = g * cg + j;
        const gm = gamma ? gamma[ch]! : 1;
        const dyxh = rs * (sdyx[ch]! - mu * sdy[ch]!);
        sg += gm * sdy[ch]!;
        sgx += gm * dyxh;
        if (dg) dg[ch] = dg[ch]! + dyxh;
        if (db) db[ch] = db[ch]! + sdy[ch]!;
      }
      const mg = sg / m;
      const mgx = sgx / m;
      // dx = rstd * (gamma*dy - mg - xhat*mgx) = k1*dy + k2*x + k3 per channel.
      for (let j = 0; j < cg; j++) {
        const ch = g * cg + j;
        const gm = gamma ? gamma[ch]! : 1;
        k1[ch] = rs * gm;
        k2[ch] = -rs * rs * mgx;
        k3[ch] = rs * (rs * mu * mgx - mg);
      }
    }
    for (let off = base; off < end; off += c) {
      for (let ch = 0; ch < c; ch++) dx[off + ch] = k1[ch]! * dy[off + ch]! + k2[ch]! * x[off + ch]! + k3[ch]!;
    }
  }
  return { dx, dgamma: dg ? Float32Array.from(dg) : null, dbeta: db ? Float32Array.from(db) : null };
}

/** RMSNorm over the last axis: x * rsqrt(mean(x^2) + eps) * gamma. */
export function rmsNormForward(x: Values, rows: number, c: number, gamma: Values | null, eps: number): Float32Array {
  const y = new Float32Array(rows * c);
  for (let r = 0, off = 0; r < rows; r++, off += c) {
    let ss = 0;
    for (let i = 0; i < c; i++) {
      const v = x[off + i]!;
      ss += v * v;
    }
    const rs = 1 / Math.sqrt(ss / c + eps);
    if (gamma) for (let i = 0; i < c; i++) y[off + i] = x[off + i]! * rs * gamma[i]!;
    else for (let i = 0; i < c; i++) y[off + i] = x[off + i]! * rs;
  }
  return y;
}

/** RMSNorm backward: g = dy*gamma, dx = r * (g - x * r^2 * mean(g*x)); dgamma = sum_rows dy*x*r. */
export function rmsNormBackward(dy: Values, x: Values, rows: number, c: number, gamma: Values | null, eps: number): NormGrads {
  const dx = new Float32Array(rows * c);
  const dg = gamma ? new Float64Array(c) : null;
  for (let r = 0, off = 0; r < rows; r++, off += c) {
    let ss = 0;
    let sgx = 0;
    for (let i = 0; i < c; i++) {
      const v = x[off + i]!;
      const d = dy[off + i]!;
      ss += v * v;
      sgx += (gamma ? d * gamma[i]! : d) * v;
    }
    const rs = 1 / Math.sqrt(ss / c + eps);
    const k = (rs * rs * sgx) / c;
    for (let i = 0; i < c; i++) {
      const v = x[off + i]!;
      const d = dy[off + i]!;
      dx[off + i] = rs * ((gamma ? d * gamma[i]! : d) - v * k);
      if (dg) dg[i] = dg[i]! + d * v * rs;
    }
  }
  return { dx, dgamma: dg ? Float32Array.from(dg) : null, dbeta: null };
}

const GELU_C = Math.sqrt(2 / Math.PI);
const GELU_A = 0.044715;

// 0.5 x (1 + tanh(u)) = x * sigmoid(2u): one exp per element, no tanh (Math.tanh is slower in
// V8), and exact limits (exp overflow gives x / inf = 0 for very negative x).

/** GELU, tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
export function geluTanhForward(x: Values, size: number): Float32Array {
  const y = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    const v = x[i]!;
    y[i] = v / (1 + Math.exp(-2 * GELU_C * (v + GELU_A * v * v * v)));
  }
  return y;
}

/** d/dx with s = sigmoid(2u): s + 2 x s (1 - s) sqrt(2/pi) (1 + 3 * 0.044715 x^2). */
export function geluTanhBackward(dy: Values, x: Values, size: number): Float32Array {
  const dx = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    const v = x[i]!;
    const v2 = v * v;
    const s = 1 / (1 + Math.exp(-2 * GELU_C * (v + GELU_A * v2 * v)));
    dx[i] = dy[i]! * (s + 2 * v * s * (1 - s) * GELU_C * (1 + 3 * GELU_A * v2));
  }
  return dx;
}
