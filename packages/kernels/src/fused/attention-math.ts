// Scaled dot-product attention as plain loops, one query row at a time (flash-attention style:
// scores live in one row buffer, never as a [Nq, Nk] tensor). The backward recomputes each
// row's probabilities instead of saving them.
import type { Values } from './cpu-math.js';

export interface AttentionDims {
  b: number;
  h: number;
  nq: number;
  nk: number;
  d: number;
  dv: number;
  /** Mask batch: 1 (shared) or b. */
  mb: number;
  /** 2: mask [mb, nk] per key; 3: mask [mb, nq, nk]. */
  maskRank: 2 | 3;
  causal: boolean;
  scale: number;
}

/** Fills p[0..end) with the row's softmax probabilities (0 where masked); returns end. */
function rowProbs(q: Values, k: Values, mask: Values, dm: AttentionDims, bi: number, bh: number, i: number, p: Float64Array): number {
  const { nq, nk, d, causal, scale } = dm;
  const end = causal ? Math.min(nk, i + 1) : nk;
  const mb = dm.mb === 1 ? 0 : bi;
  const mrow = dm.maskRank === 2 ? mb * nk : (mb * nq + i) * nk;
  const qo = (bh * nq + i) * d;
  const kb = bh * nk * d;
  let max = -Infinity;
  for (let j = 0; j < end; j++) {
    if (mask[mrow + j] === 0) {
      p[j] = -Infinity;
      continue;
    }
    let s = 0;
    const ko = kb + j * d;
    for (let t = 0; t < d; t++) s += q[qo + t]! * k[ko + t]!;
    s *= scale;
    p[j] = s;
    if (s > max) max = s;
  }
  let z = 0;
  for (let j = 0; j < end; j++) {
    const e = Math.exp(p[j]! - max); // exp(-inf) = 0; a row with no allowed key gives NaN, as torch
    p[j] = e;
    z += e;
  }
  const inv = 1 / z;
  for (let j = 0; j < end; j++) p[j] = p[j]! * inv;
  return end;
}

export function attentionForward(q: Values, k: Values, v: Values, mask: Values, dm: AttentionDims): Float32Array {
  const { b, h, nq, nk, dv } = dm;
  const out = new Float32Array(b * h * nq * dv);
  const p = new Float64Array(nk);
  const acc = new Float64Array(dv);
  for (let bi = 0; bi < b; bi++) {
    for (let hi = 0; hi < h; hi++) {
      const bh = bi * h + hi;
      const vb = bh * nk * dv;
      for (let i = 0; i < nq; i++) {
        const end = rowProbs(q, k, mask, dm, bi, bh, i, p);
        acc.fill(0);
        for (let j = 0; j < end; j++) {
          const pj = p[j]!;
          if (pj === 0) continue;
          const vo = vb + j * dv;
          for (let t = 0; t < dv; t++) acc[t] = acc[t]! + pj * v[vo + t]!;
        }
        if (end === 0) acc.fill(NaN);
        out.set(acc, (bh * nq + i) * dv);
      }
    }
  }
  return out;
}

/**
 * With P = softmax(S), S = scale q k^T + mask: dV = P^T dO, dP = dO V^T,
 * dS = P * (dP - rowsum(P * dP)), dQ = scale dS K, dK = scale dS^T Q.
 */
export function attentionBackward(
  dy: Values,
  q: Values,
  k: Values,
  v: Values,
  mask: Values,
  dm: AttentionDims,
): { dq: Float32Array; dk: Float32Array; dv: Float32Array } {
  const { b, h, nq, nk, d, dv, scale } = dm;
  const dq = new Float32Array(b * h * nq * d);
  const dkOut = new Float32Array(b * h * nk * d);
  const dvOut = new Float32Array(b * h * nk * dv);
  const p = new Float64Array(nk);
  const ds = new Float64Array(nk);
  const dk = new Float64Array(nk * d);
  const dvAcc = new Float64Array(nk * dv);
  const dqRow = new Float64Array(d);
  for (let bi = 0; bi < b; bi++) {
    for (let hi = 0; hi < h; hi++) {
      const bh = bi * h + hi;
      const kb = bh * nk * d;
      const vb = bh * nk * dv;
      dk.fill(0);
      dvAcc.fill(0);
      for (let i = 0; i < nq; i++) {
        const end = rowProbs(q, k, mask, dm, bi, bh, i, p);
        const oo = (bh * nq + i) * dv;
        let rowSum = 0;
        for (let j = 0; j < end; j++) {
          const pj = p[j]!;
          if (pj === 0) {
            ds[j] = 0;
            continue;
          }
          const vo = vb + j * dv;
          let dp = 0;
          for (let t = 0; t < dv; t++) {
            const g = dy[oo + t]!;
            dp += g * v[vo + t]!;
            dvAcc[j * dv + t] = dvAcc[j * dv + t]! + pj * g;
          }
          ds[j] = dp;
          rowSum += pj * dp;
        }
        const qo = (bh * nq + i) * d;
        dqRow.fill(0);
        for (let j = 0; j < end; j++) {
          const pj = p[j]!;
          if (pj === 0) continue;
          const g = pj * (ds[j]! - rowSum) * scale;
          const ko = kb + j * d;
          for (let t = 0; t < d; t++) {
            dqRow[t] = dqRow[t]! + g * k[ko + t]!;
            dk[j * d + t] = dk[j * d + t]! + g * q[qo + t]!;
          }
        }
        for (let t = 0; t < d; t++) dq[qo + t] = dqRow[t]!;
      }
      dkOut.set(dk, kb);
      dvOut.set(dvAcc, vb);
    }
  }
  return { dq, dk: dkOut, dv: dvOut };
}
