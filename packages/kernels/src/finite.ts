// Non-finite values (NaN, +Inf, -Inf): one scan and one message for every place that must stop on
// them (checkpoint tensors at load, latents while sampling, decoded frames before they are written),
// so a broken weight or a diverged step is named instead of turning into an all-black video.

export class NonFiniteError extends Error {
  override name = 'NonFiniteError';
}

export interface NonFiniteCount {
  nan: number;
  posInf: number;
  negInf: number;
  /** Index of the first non-finite value (flat, row-major), or -1 when every value is finite. */
  first: number;
  /** Number of values scanned. */
  size: number;
}

/** Index of the first NaN or +-Inf in `values`, or -1. */
export function firstNonFinite(values: ArrayLike<number>): number {
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    // v - v is 0 for every finite number and NaN for NaN and +-Inf.
    if (v - v !== 0) return i;
  }
  return -1;
}

/** Counts NaN, +Inf and -Inf in `values` (a quick scan returns early when all are finite). */
export function countNonFinite(values: ArrayLike<number>): NonFiniteCount {
  const first = firstNonFinite(values);
  const out: NonFiniteCount = { nan: 0, posInf: 0, negInf: 0, first, size: values.length };
  if (first < 0) return out;
  for (let i = first; i < values.length; i++) {
    const v = values[i]!;
    if (Number.isNaN(v)) out.nan++;
    else if (v === Infinity) out.posInf++;
    else if (v === -Infinity) out.negInf++;
  }
  return out;
}

/** "3 NaN and 1 +Inf of 4096 values (the first at index 17)". */
export function describeNonFinite(c: NonFiniteCount): string {
  const parts = [c.nan && `${c.nan} NaN`, c.posInf && `${c.posInf} +Inf`, c.negInf && `${c.negInf} -Inf`].filter(Boolean) as string[];
  const list = parts.length > 1 ? `${parts.slice(0, -1).join(', ')} and ${parts.at(-1)}` : parts[0] ?? 'no non-finite values';
  return `${list} of ${c.size} values (the first at index ${c.first})`;
}
