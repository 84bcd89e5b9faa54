// NumPy's `np.random.default_rng(seed).random()` reproduced bit for bit: SeedSequence entropy
// mixing into a PCG64 (XSL-RR 128/64) generator, doubles from the top 53 bits. The reference
// draws its bucket keep-probabilities this way, so matching it keeps the same samples.

const INIT_A = 0x43b0d7e5;
const MULT_A = 0x931e8875;
const INIT_B = 0x8b51f9dd;
const MULT_B = 0x58f38ded;
const MIX_MULT_L = 0xca01f9dd;
const MIX_MULT_R = 0x4973f715;
const POOL_SIZE = 4;

const MASK64 = (1n << 64n) - 1n;
const MASK128 = (1n << 128n) - 1n;
const PCG_MULT = (2549297995355413924n << 64n) + 4865540595714422341n;

function hashmix(value: number, hash: { c: number }): number {
  value = (value ^ hash.c) >>> 0;
  hash.c = Math.imul(hash.c, MULT_A) >>> 0;
  value = Math.imul(value, hash.c) >>> 0;
  return (value ^ (value >>> 16)) >>> 0;
}

function mix(x: number, y: number): number {
  let r = (Math.imul(MIX_MULT_L, x) - Math.imul(MIX_MULT_R, y)) >>> 0;
  r = (r ^ (r >>> 16)) >>> 0;
  return r;
}

function seedWords(seed: bigint): number[] {
  if (seed < 0n) throw new Error(`numpy seed must be non-negative, got ${seed}`);
  if (seed === 0n) return [0];
  const words: number[] = [];
  while (seed > 0n) {
    words.push(Number(seed & 0xffffffffn));
    seed >>= 32n;
  }
  return words;
}

/** SeedSequence(seed).generate_state(nWords, uint32). */
export function seedSequenceState(seed: number | bigint, nWords: number): Uint32Array {
  const entropy = seedWords(BigInt(seed));
  const pool = new Array<number>(POOL_SIZE).fill(0);
  const hash = { c: INIT_A };
  for (let i = 0; i < POOL_SIZE; i++) pool[i] = hashmix(i < entropy.length ? entropy[i]! : 0, hash);
  for (let s = 0; s < POOL_SIZE; s++) {
    for (let d = 0; d < POOL_SIZE; d++) if (s !== d) pool[d] = mix(pool[d]!, hashmix(pool[s]!, hash));
  }
  for (let s = POOL_SIZE; s < entropy.length; s++) {
    for (let d = 0; d < POOL_SIZE; d++) pool[d] = mix(pool[d]!, hashmix(entropy[s]!, hash));
  }
  const out = new Uint32Array(nWords);
  let c = INIT_B;
  for (let i = 0; i < nWords; i++) {
    let v = (pool[i % POOL_SIZE]! ^ c) >>> 0;
    c = Math.imul(c, MULT_B) >>> 0;
    v = Math.imul(v, c) >>> 0;
    out[i] = (v ^ (v >>> 16)) >>> 0;
  }
  return out;
}

/** PCG64 seeded like `np.random.PCG64(SeedSequence(seed))`. */
export class NumpyRandom {
  private state: bigint;
  private readonly inc: bigint;

  constructor(seed: number | bigint) {
    const w = seedSequenceState(seed, 8);
    const u64 = (k: number) => BigInt(w[2 * k]!) | (BigInt(w[2 * k + 1]!) << 32n);
    const initState = (u64(0) << 64n) | u64(1);
    const initSeq = (u64(2) << 64n) | u64(3);
    this.inc = ((initSeq << 1n) | 1n) & MASK128;
    this.state = 0n;
    this.step();
    this.state = (this.state + initState) & MASK128;
    this.step();
  }

  private step(): void {
    this.state = (this.state * PCG_MULT + this.inc) & MASK128;
  }

  /** Next raw 64-bit output. */
  nextUint64(): bigint {
    this.step();
    const s = this.state;
    const x = ((s >> 64n) ^ s) & MASK64;
    const rot = s >> 122n;
    return ((x >> rot) | (x << ((64n - rot) & 63n))) & MASK64;
  }

  /** `Generator.random()`: a double in [0, 1). */
  random(): number {
    return Number(this.nextUint64() >> 11n) / 9007199254740992;
  }
}

