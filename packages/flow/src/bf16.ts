// Scalar float32 / bfloat16 rounding. The reference does its timestep arithmetic on torch tensors,
// so every intermediate is rounded to float32 (or to bfloat16 when the video metadata arrives as
// bf16 tensors). Rounding each JS double result reproduces that exactly: +, -, *, / and sqrt done in
// float64 and rounded once to float32 equal the float32 operation (float64 has > 2*24+2 bits).

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Rounds to the nearest float32 (ties to even). */
export const roundF32: (x: number) => number = Math.fround;

/**
 * Rounds to the nearest bfloat16 (ties to even), the way torch converts float32 to bf16: the value
 * is first a float32, then its upper 16 bits are kept after round-to-nearest-even on the lower 16.
 */
export function roundBf16(x: number): number {
  f32[0] = x;
  if (Number.isNaN(f32[0]!)) return NaN;
  const u = u32[0]!;
  const lsb = (u >>> 16) & 1;
  u32[0] = ((u + 0x7fff + lsb) & 0xffff0000) >>> 0;
  return f32[0]!;
}

/** A torch scalar dtype this package reproduces on the host. */
export type HostFloat = 'float32' | 'bfloat16';

/** Rounds to the given dtype. */
export function roundTo(dtype: HostFloat, x: number): number {
  return dtype === 'bfloat16' ? roundBf16(x) : Math.fround(x);
}

/**
 * torch.linspace(start, end, steps) in float32 on CPU: the first half counts up from `start`, the
 * second half counts down from `end` with the same step, so both ends are exact.
 */
export function linspaceF32(start: number, end: number, steps: number): number[] {
  if (!Number.isInteger(steps) || steps < 0) throw new RangeError(`linspace: steps must be a non-negative integer, got ${steps}.`);
  if (steps === 0) return [];
  const s = Math.fround(start);
  if (steps === 1) return [s];
  const e = Math.fround(end);
  const step = Math.fround(Math.fround(e - s) / (steps - 1));
  const half = Math.floor(steps / 2);
  const out: number[] = [];
  for (let i = 0; i < steps; i++) {
    out.push(i < half ? Math.fround(s + Math.fround(step * i)) : Math.fround(e - Math.fround(step * (steps - i - 1))));
  }
  return out;
}
