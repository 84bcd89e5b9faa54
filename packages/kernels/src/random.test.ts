import { describe, expect, it } from 'vitest';
import { tf } from './tf.js';
import { SeededRandom, mixSeed, toRandom } from './random.js';

const draws = (r: SeededRandom, n: number) => Array.from({ length: n }, () => r.uniform());

describe('SeededRandom', () => {
  it('is xoshiro128** (known outputs from the state 1, 2, 3, 4)', () => {
    const r = SeededRandom.fromState({ words: [1, 2, 3, 4], spare: null });
    expect([r.uint32(), r.uint32(), r.uint32()]).toEqual([11520, 0, 5927040]);
  });

  it('gives the same stream for a seed, another for another seed, and tells large seeds apart', () => {
    expect(draws(new SeededRandom(7), 20)).toEqual(draws(new SeededRandom(7), 20));
    expect(draws(new SeededRandom(7), 20)).not.toEqual(draws(new SeededRandom(8), 20));
    expect(draws(new SeededRandom(5), 5)).not.toEqual(draws(new SeededRandom(5 + 2 ** 32), 5));
    const r = new SeededRandom(7);
    draws(r, 3);
    expect(draws(r.reseed(7), 20)).toEqual(draws(new SeededRandom(7), 20));
    expect(() => new SeededRandom(Number.NaN)).toThrow(/finite/);
  });

  it('resumes exactly from state(), including a pending Box-Muller normal', () => {
    const a = new SeededRandom(11);
    a.normal(); // leaves the pair's second value pending
    const saved = JSON.parse(JSON.stringify(a.state()));
    const expected = [a.normal(), a.uniform(), a.normal(), a.uint32()];
    const b = SeededRandom.fromState(saved);
    expect([b.normal(), b.uniform(), b.normal(), b.uint32()]).toEqual(expected);
    const c = new SeededRandom(0).restore(saved);
    expect(c.normal()).toBe(expected[0]);
    expect(() => new SeededRandom().restore({ words: [0, 0, 0, 0], spare: null })).toThrow(/four uint32/);
    expect(() => new SeededRandom().restore({ words: [1, 2] } as never)).toThrow(/state\(\)/);
  });

  it('draws uniforms, normals and integers with the right ranges and moments', () => {
    const r = new SeededRandom(3);
    const u = r.uniformArray(20000, -2, 3);
    expect(Math.min(...u)).toBeGreaterThanOrEqual(-2);
    expect(Math.max(...u)).toBeLessThan(3);
    expect(mean(u)).toBeCloseTo(0.5, 1);
    const n = r.normalArray(20000, 1, 2);
    expect(mean(n)).toBeCloseTo(1, 1);
    expect(Math.sqrt(mean(n.map((x) => (x - 1) ** 2)))).toBeCloseTo(2, 1);
    const ints = new Set(Array.from({ length: 2000 }, () => r.int(2, 5)));
    expect([...ints].sort()).toEqual([2, 3, 4, 5]);
    expect(() => r.int(3, 2)).toThrow(/lo <= hi/);
  });

  it('shuffles into a permutation, picks items and draws keys by weight', () => {
    const r = new SeededRandom(4);
    const items = Array.from({ length: 50 }, (_, i) => i);
    const shuffled = r.shuffle([...items]);
    expect(shuffled).not.toEqual(items);
    expect([...shuffled].sort((a, b) => a - b)).toEqual(items);
    expect(['a', 'b']).toContain(r.pick(['a', 'b']));
    expect(() => r.pick([])).toThrow(/empty/);
    const counts = { x: 0, y: 0, z: 0 };
    for (let i = 0; i < 4000; i++) counts[r.choice({ x: 1, y: 3, z: 0 })]++;
    expect(counts.z).toBe(0);
    expect(counts.y / counts.x).toBeGreaterThan(2.5);
    expect(counts.y / counts.x).toBeLessThan(3.5);
    expect(() => r.choice({ x: 0 })).toThrow(/positive weight/);
  });

  it('makes tensors of the asked shape from the same stream as the arrays', () => {
    const t = new SeededRandom(9).normalTensor([2, 3], 0, 0.5);
    expect(t.shape).toEqual([2, 3]);
    expect(Array.from(t.dataSync())).toEqual(Array.from(new SeededRandom(9).normalArray(6, 0, 0.5)));
    const u = new SeededRandom(9).uniformTensor([4], 1, 2);
    expect(Array.from(u.dataSync())).toEqual(Array.from(new SeededRandom(9).uniformArray(4, 1, 2)));
    tf.dispose([t, u]);
  });

  it('toRandom passes a generator through and seeds a fresh one otherwise', () => {
    const r = new SeededRandom(1);
    expect(toRandom(r, 5)).toBe(r);
    expect(toRandom(undefined, 5).uniform()).toBe(new SeededRandom(5).uniform());
    expect(toRandom(6, 5).uniform()).toBe(new SeededRandom(6).uniform());
  });
});

describe('mixSeed', () => {
  it('is a fixed function of its parts, order-sensitive, and keeps large parts distinct', () => {
    expect(mixSeed(1, 2, 3)).toBe(mixSeed(1, 2, 3));
    expect(mixSeed(1, 2, 3)).not.toBe(mixSeed(3, 2, 1));
    expect(mixSeed(1, 2)).not.toBe(mixSeed(1, 2, 0));
    expect(mixSeed(5)).not.toBe(mixSeed(5 + 2 ** 32));
    const seen = new Set<number>();
    for (let e = 0; e < 100; e++) for (let i = 0; i < 100; i++) seen.add(mixSeed(42, e, i));
    expect(seen.size).toBe(10000);
    for (const v of seen) expect(v >>> 0).toBe(v);
  });
});

function mean(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]!;
  return s / a.length;
}
