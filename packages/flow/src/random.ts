// The package's one source of randomness: a small seeded generator, so every draw (timesteps,
// noise, condition choices) is reproducible from a seed on every backend. It is xoshiro128**
// seeded through splitmix32; normals come from the Box-Muller transform (pairs, the second value
// kept for the next call). It does not reproduce torch's generator: parity fixtures pass their
// noise in explicitly.
import { tf, type Tensor } from '@opensora-ts/kernels';

function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) | 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

const rotl = (x: number, k: number) => ((x << k) | (x >>> (32 - k))) >>> 0;

export class SeededRandom {
  private s = new Uint32Array(4);
  private spare: number | undefined;

  constructor(readonly seed: number) {
    if (!Number.isFinite(seed)) throw new RangeError(`SeededRandom: seed must be a finite number, got ${seed}.`);
    // Mix both 32-bit halves so seeds above 2^32 still differ.
    const st = { s: (seed >>> 0) ^ Math.imul(Math.floor(seed / 4294967296) | 0, 0x27d4eb2d) };
    for (let i = 0; i < 4; i++) this.s[i] = splitmix32(st);
    if (this.s.every((v) => v === 0)) this.s[0] = 1;
  }

  /** A uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1]!, 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1]! << 9) >>> 0;
    s[2]! ^= s[0]!;
    s[3]! ^= s[1]!;
    s[1]! ^= s[2]!;
    s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotl(s[3]!, 11);
    return result;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  uniform(): number {
    const a = this.nextUint32() >>> 5;
    const b = this.nextUint32() >>> 6;
    return (a * 67108864 + b) / 9007199254740992;
  }

  /** Uniform in [lo, hi). */
  uniformIn(lo: number, hi: number): number {
    return lo + (hi - lo) * this.uniform();
  }

  /** Standard normal N(0, 1). */
  normal(): number {
    if (this.spare !== undefined) {
      const v = this.spare;
      this.spare = undefined;
      return v;
    }
    const u1 = 1 - this.uniform(); // (0, 1]: log stays finite
    const u2 = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u1));
    this.spare = r * Math.sin(2 * Math.PI * u2);
    return r * Math.cos(2 * Math.PI * u2);
  }

  /** Integer uniform in [lo, hi] (both ends included, as Python's random.randint). */
  randint(lo: number, hi: number): number {
    if (!Number.isInteger(lo) || !Number.isInteger(hi) || hi < lo) throw new RangeError(`randint: need integers lo <= hi, got ${lo}, ${hi}.`);
    return lo + Math.floor(this.uniform() * (hi - lo + 1));
  }

  /** A key drawn with probability proportional to its weight (Python's random.choices, k=1). */
  choice<K extends string>(weights: Readonly<Record<K, number>>): K {
    const keys = Object.keys(weights) as K[];
    let total = 0;
    for (const k of keys) {
      const w = weights[k];
      if (!(w >= 0)) throw new RangeError(`choice: weight of '${k}' must be >= 0, got ${w}.`);
      total += w;
    }
    if (keys.length === 0 || total <= 0) throw new RangeError(`choice: need at least one positive weight, got ${JSON.stringify(weights)}.`);
    let x = this.uniform() * total;
    for (const k of keys) {
      x -= weights[k];
      if (x < 0) return k;
    }
    return keys[keys.length - 1]!;
  }

  /** n standard normals as float32. */
  normalArray(n: number): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.normal();
    return out;
  }

  /** n uniforms in [lo, hi) as float32. */
  uniformArray(n: number, lo = 0, hi = 1): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.uniformIn(lo, hi);
    return out;
  }

  /** A float32 tensor of standard normals. */
  normalTensor(shape: number[]): Tensor {
    return tf.tensor(this.normalArray(shape.reduce((a, b) => a * b, 1)), shape, 'float32');
  }
}

/** Either a generator or a seed for a fresh one. */
export function toRandom(r: SeededRandom | number | undefined, fallbackSeed: number): SeededRandom {
  if (r instanceof SeededRandom) return r;
  return new SeededRandom(r ?? fallbackSeed);
}
