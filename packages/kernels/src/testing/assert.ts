// Numeric comparison for tests: every element within atol + rtol*|expected|, with a message
// naming the worst element (index, got, expected) when not.
import { tf } from '../tf.js';

export type Numbers = tf.Tensor | ArrayLike<number>;

export interface CloseOptions {
  atol?: number;
  rtol?: number;
  /** Prefix for the failure message. */
  what?: string;
}

function toArray(v: Numbers): ArrayLike<number> {
  return v instanceof tf.Tensor ? (v.dataSync() as ArrayLike<number>) : v;
}

export interface Distance {
  maxAbs: number;
  /** ||got - want||_2 / ||want||_2 */
  relL2: number;
}

export function distance(got: Numbers, want: Numbers): Distance {
  const a = toArray(got);
  const b = toArray(want);
  if (a.length !== b.length) throw new Error(`distance: ${a.length} values vs ${b.length}`);
  let maxAbs = 0;
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= maxAbs)) maxAbs = d; // NaN propagates
    num += d * d;
    den += b[i]! * b[i]!;
  }
  return { maxAbs, relL2: Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-30) };
}

/** Throws unless |got - want| <= atol + rtol*|want| everywhere (shapes checked for tensors). */
export function expectClose(got: Numbers, want: Numbers, options: CloseOptions = {}): void {
  const { atol = 1e-5, rtol = 1e-5, what = 'values' } = options;
  if (got instanceof tf.Tensor && want instanceof tf.Tensor && got.shape.join(',') !== want.shape.join(',')) {
    throw new Error(`${what}: shape [${got.shape.join(',')}], expected [${want.shape.join(',')}]`);
  }
  const a = toArray(got);
  const b = toArray(want);
  if (a.length !== b.length) throw new Error(`${what}: ${a.length} values, expected ${b.length}`);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < a.length; i++) {
    const bound = atol + rtol * Math.abs(b[i]!);
    const d = Math.abs(a[i]! - b[i]!);
    const excess = Number.isNaN(d) ? Infinity : d - bound;
    if (excess > worstExcess) {
      worstExcess = excess;
      worst = i;
    }
  }
  if (worst >= 0) {
    const { maxAbs, relL2 } = distance(a, b);
    throw new Error(
      `${what}: element ${worst} is ${a[worst]}, expected ${b[worst]} (atol ${atol}, rtol ${rtol}); max |diff| ${maxAbs.toExponential(2)}, rel L2 ${relL2.toExponential(2)}`,
    );
  }
}
