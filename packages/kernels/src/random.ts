// The one seeded generator of opensora-ts: xoshiro128** seeded through splitmix32, normals by the
// Box-Muller transform (pairs, the second value kept for the next call). Every package draws from
// it (timesteps, noise, shuffles, caption dropout, synthetic data, test data), so a seed gives the
// same stream on every platform and backend, independent of tfjs's global RNG. Its whole state is
// four uint32 words and the spare normal, so `state()` / `restore()` resume a stream exactly. It
// does not reproduce torch's or numpy's generators: parity fixtures pass their noise in.
import { tf, type Tensor } from './tf.js';

const TWO_32 = 4294967296;

/** One splitmix32 step: the advanced state and its output. */
function splitmix32(x: number): [number, number] {
  x = (x + 0x9e3779b9) | 0;
  let z = x;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return [x, (z ^ (z >>> 16)) >>> 0];
}

const rotl = (x: number, k: number) => ((x << k) | (x >>> (32 - k))) >>> 0;

/**
 * Mixes integers into one 32-bit seed (e.g. base seed, epoch, clip index), so related streams
 * (one per step, per sample, per purpose) are independent yet reproducible. Values beyond 32 bits
 * are folded in too, so large seeds stay distinct.
 */
export function mixSeed(...parts: number[]): number {
  let h = 0x811c9dc5;
  for (const p of parts) {
    let v = Math.floor(p);
    for (let k = 0; k < 2; k++) {
      h = splitmix32((h ^ (v >>> 0)) >>> 0)[1];
      v = Math.floor(v / TWO_32);
    }
  }
  return h >>> 0;
}

/** A generator's exact position: the four xoshiro words and the pending Box-Muller normal. */
export interface RandomState {
  words: [number, number, number, number];
  spare: number | null;
}

export class SeededRandom {
  private readonly s = new Uint32Array(4);
  private spare: number | undefined;

  constructor(seed = 0) {
    this.reseed(seed);
  }

  /** A generator at a position saved by `state()`. */
  static fromState(state: RandomState): SeededRandom {
    return new SeededRandom().restore(state);
  }

  /** Restarts the stream from `seed` (any finite number; values beyond 32 bits count too). */
  reseed(seed: number): this {
    if (!Number.isFinite(seed)) throw new RangeError(`SeededRandom: seed must be a finite number, got ${seed}.`);
    // Mix both 32-bit halves so seeds above 2^32 still differ.
    let x = (seed >>> 0) ^ Math.imul(Math.floor(seed / TWO_32) | 0, 0x27d4eb2d);
    for (let i = 0; i < 4; i++) [x, this.s[i]] = splitmix32(x);
    if (this.s.every((v) => v === 0)) this.s[0] = 1;
    this.spare = undefined;
    return this;
  }

  /** The position, plain JSON, for `restore()` / `SeededRandom.fromState()`. */
  state(): RandomState {
    return { words: [this.s[0]!, this.s[1]!, this.s[2]!, this.s[3]!], spare: this.spare ?? null };
  }

  /** Continues exactly where the generator that gave `state` stood. */
  restore(state: RandomState): this {
    const w = state?.words;
    if (!Array.isArray(w) || w.length !== 4 || !w.every((v) => Number.isInteger(v) && v >= 0 && v < TWO_32) || w.every((v) => v === 0)) {
      throw new RangeError(`SeededRandom.restore: expected { words: four uint32 (not all 0), spare }, got ${JSON.stringify(state)}; pass what state() returned.`);
    }
    this.s.set(w);
    this.spare = state.spare ?? undefined;
    return this;
  }

  /** A uniform 32-bit unsigned integer. */
  uint32(): number {
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

  /** Uniform in [lo, hi), default [0, 1), from 53 random bits. */
  uniform(lo = 0, hi = 1): number {
    const a = this.uint32() >>> 5;
    const b = this.uint32() >>> 6;
    return lo + (hi - lo) * ((a * 67108864 + b) / 9007199254740992);
  }

  /** Normal N(mean, std^2). */
  normal(mean = 0, std = 1): number {
    let z: number;
    if (this.spare !== undefined) {
      z = this.spare;
      this.spare = undefined;
    } else {
      const u1 = 1 - this.uniform(); // (0, 1]: log stays finite
      const u2 = this.uniform();
      const r = Math.sqrt(-2 * Math.log(u1));
      this.spare = r * Math.sin(2 * Math.PI * u2);
      z = r * Math.cos(2 * Math.PI * u2);
    }
    return mean + std * z;
  }

  /** Integer uniform in [lo, hi], both ends included (Python's random.randint). */
  int(lo: number, hi: number): number {
    if (!Number.isInteger(lo) || !Number.isInteger(hi) || hi < lo) throw new RangeError(`SeededRandom.int: need integers lo <= hi, got ${lo}, ${hi}.`);
    return lo + Math.floor(this.uniform() * (hi - lo + 1));
  }

  /** One item, uniformly. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('SeededRandom.pick: got an empty list; pass at least one item.');
    return items[Math.floor(this.uniform() * items.length)]!;
  }

  /** A key drawn with probability proportional to its weight (Python's random.choices, k=1). */
  choice<K extends string>(weights: Readonly<Record<K, number>>): K {
    const keys = Object.keys(weights) as K[];
    let total = 0;
    for (const k of keys) {
      const w = weights[k];
      if (!(w >= 0)) throw new RangeError(`SeededRandom.choice: weight of '${k}' must be >= 0, got ${w}.`);
      total += w;
    }
    if (keys.length === 0 || total <= 0) throw new RangeError(`SeededRandom.choice: need at least one positive weight, got ${JSON.stringify(weights)}.`);
    let x = this.uniform() * total;
    for (const k of keys) {
      x -= weights[k];
      if (x < 0) return k;
    }
    return keys[keys.length - 1]!;
  }

  /** Fisher-Yates, in place; returns `items`. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(this.uniform() * (i + 1));
      [items[i], items[j]] = [items[j]!, items[i]!];
    }
    return items;
  }

  /** n normals N(mean, std^2) as float32. */
  normalArray(n: number, mean = 0, std = 1): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.normal(mean, std);
    return out;
  }

  /** n uniforms in [lo, hi) as float32. */
  uniformArray(n: number, lo = 0, hi = 1): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.uniform(lo, hi);
    return out;
  }

  /** A float32 tensor of normals N(mean, std^2). */
  normalTensor(shape: number[], mean = 0, std = 1): Tensor {
    return tf.tensor(this.normalArray(sizeOf(shape), mean, std), shape, 'float32');
  }

  /** A float32 tensor of uniforms in [lo, hi). */
  uniformTensor(shape: number[], lo = 0, hi = 1): Tensor {
    return tf.tensor(this.uniformArray(sizeOf(shape), lo, hi), shape, 'float32');
  }
}

/** `r` itself when it is a generator, else a fresh one seeded with `r` (or `fallbackSeed`). */
export function toRandom(r: SeededRandom | number | undefined, fallbackSeed: number): SeededRandom {
  if (r instanceof SeededRandom) return r;
  return new SeededRandom(r ?? fallbackSeed);
}

function sizeOf(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
