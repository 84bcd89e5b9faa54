// Test helper: how far apart two checkpoints' tensors are, as relative L2 distances.
import { readSafetensors } from '@opensora-ts/kernels';

export interface WeightDistance {
  /** ||a-b|| / ||b|| over all tensors together. */
  all: number;
  /** The worst single tensor's distance, and its name. */
  worst: number;
  worstName: string;
  /** Names present in one file only. */
  unmatched: string[];
}

/**
 * Relative L2 distances between two safetensors files (the parity measure of this project). The key
 * half of cross-attention's kv_linear.bias is left out: its true gradient is zero (one vector added
 * to every key shifts each query's scores by a constant, which softmax ignores), so it gets rounding
 * noise only, and AdamW (eps 1e-15) turns any noise into steps of +-lr, in either run.
 */
export function weightDistance(a: string, b: string): WeightDistance {
  const x = readSafetensors(a);
  const y = readSafetensors(b);
  const unmatched = [...new Set([...x.keys(), ...y.keys()])].filter((k) => !x.has(k) || !y.has(k));
  let worst = 0;
  let worstName = '';
  let dAll = 0;
  let nAll = 0;
  for (const [k, t] of x) {
    const other = y.get(k);
    if (!other) continue;
    const u = other.data as Float32Array;
    const v = t.data as Float32Array;
    const from = /(^|\.)cross_attn\.kv_linear\.bias$/.test(k) ? v.length / 2 : 0;
    let d = 0;
    let n = 0;
    for (let i = from; i < v.length; i++) {
      d += (v[i]! - u[i]!) ** 2;
      n += u[i]! ** 2;
    }
    dAll += d;
    nAll += n;
    const r = n > 0 ? Math.sqrt(d / n) : d > 0 ? Infinity : 0;
    if (r > worst) {
      worst = r;
      worstName = k;
    }
  }
  return { all: nAll > 0 ? Math.sqrt(dAll / nAll) : dAll > 0 ? Infinity : 0, worst, worstName, unmatched };
}
