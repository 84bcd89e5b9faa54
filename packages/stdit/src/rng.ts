// A small seeded generator (mulberry32) for the model's training-time draws (caption dropout,
// drop-path), so a run is reproducible from its seed and independent of tfjs's global RNG.
export class SeededRandom {
  private state: number;
  constructor(seed = 0) {
    this.state = seed >>> 0;
  }
  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  reseed(seed: number): void {
    this.state = seed >>> 0;
  }
}
