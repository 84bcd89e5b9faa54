import { describe, expect, it } from 'vitest';
import { tf } from '@opensora-ts/kernels';
import { extendedLatentLength, mergeClips, prepRefAndMask, prepRefAndUpdateMaskInLoop, promptForLoop } from './extension.js';
import { appendGenerated, applyMaskStrategy, findNearestPoint, parseMaskStrategy } from './mask-strategy.js';

/** A reference latent [C=1, T, 1, 1] whose frame k holds value base + k. */
const ref = (T: number, base: number) => tf.tensor(Array.from({ length: T }, (_, k) => base + k), [1, T, 1, 1]);
const frames = (x: tf.Tensor) => Array.from(x.dataSync());

describe('mask_strategy', () => {
  it('parses entries with defaults and negative starts', () => {
    expect(parseMaskStrategy('0,0,-2,-3,2,0.5;1')).toEqual([
      { loop: 0, refId: 0, refStart: -2, targetStart: -3, length: 2, editRatio: 0.5 },
      { loop: 1, refId: 0, refStart: 0, targetStart: 0, length: 1, editRatio: 0 },
    ]);
    expect(parseMaskStrategy('')).toEqual([]);
    expect(() => parseMaskStrategy('0,0,x')).toThrow(/ref_start must be an integer/);
    expect(() => parseMaskStrategy('0,0,0,0,1,0,9')).toThrow(/1 to 6/);
  });
  it('writes reference frames (negative starts count from the end) and sets edit ratios', () => {
    const z = tf.zeros([1, 1, 6, 1, 1]);
    const r = ref(4, 10); // frames 10, 11, 12, 13
    const out = applyMaskStrategy(z, [[r]], ['0,0,-2,-3,5,0.5'], 0);
    // ref_start -2 -> 2, target_start -3 -> 3, length min(5, 6-3, 4-2) = 2
    expect(frames(out.z)).toEqual([0, 0, 0, 12, 13, 0]);
    expect(out.mask).toEqual([[1, 1, 1, 0.5, 0.5, 1]]);
    const other = applyMaskStrategy(z, [[r]], ['1,0,0,0,1,0'], 0); // other loop: untouched
    expect(frames(other.z)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(other.mask).toEqual([[1, 1, 1, 1, 1, 1]]);
    expect(applyMaskStrategy(z, [], [], 0).mask).toBeNull();
    [z, r, out.z, other.z].forEach((x) => x.dispose());
  });
  it('aligns starts to the nearest point', () => {
    expect(findNearestPoint(7, 5, 20)).toBe(5);
    expect(findNearestPoint(8, 5, 20)).toBe(10);
    expect(findNearestPoint(18, 5, 20)).toBe(15); // would pass the last multiple
  });
  it('append_generated adds the clip as a reference carrying its last L latents', () => {
    const clip = tf.tensor(Array.from({ length: 8 }, (_, k) => k), [1, 1, 8, 1, 1]);
    const a = appendGenerated([[]], [''], clip, 1, 5, 0);
    expect(a.strategies).toEqual(['1,0,-5,0,5,0']);
    const b = appendGenerated([[ref(2, 0)]], ['0,0,0,0,1'], clip, 1, 5, 0);
    expect(b.strategies).toEqual(['0,0,0,0,1;1,1,-5,0,5,0']);
    const z = tf.zeros([1, 1, 8, 1, 1]);
    const applied = applyMaskStrategy(z, a.refs, a.strategies, 1);
    expect(frames(applied.z)).toEqual([3, 4, 5, 6, 7, 0, 0, 0]);
    expect(applied.mask).toEqual([[0, 0, 0, 0, 0, 1, 1, 1]]);
    [clip, z, applied.z, ...a.added, ...b.added, b.refs[0]![0]!].forEach((x) => x.dispose());
  });
});

describe('multi-clip extension', () => {
  it('length arithmetic: clip + (loops-1)(T-L), cut to a multiple of 5, 17 frames per 5 latents', () => {
    expect(extendedLatentLength(29, 1)).toEqual({ total: 29, cut: 25, pixelFrames: 85 });
    expect(extendedLatentLength(29, 2)).toEqual({ total: 53, cut: 50, pixelFrames: 170 });
    expect(extendedLatentLength(10, 3, 5)).toEqual({ total: 20, cut: 20, pixelFrames: 68 });
    expect(() => extendedLatentLength(5, 2, 5)).toThrow(/smaller/);
  });
  it('mergeClips drops each later clip head and cuts to a multiple of 5', () => {
    const c0 = tf.tensor([0, 1, 2, 3, 4, 5, 6, 7], [1, 1, 8, 1, 1]);
    const c1 = tf.tensor([3, 4, 5, 6, 7, 8, 9, 10], [1, 1, 8, 1, 1]);
    const m = mergeClips([c0, c1], 5);
    expect(m.shape[2]).toBe(extendedLatentLength(8, 2, 5).cut);
    expect(frames(m)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    [c0, c1, m].forEach((x) => x.dispose());
  });
  it('promptForLoop picks the |k| segment', () => {
    expect([0, 1, 2, 3].map((i) => promptForLoop('|0|a cat|2|a dog', i))).toEqual(['a cat', 'a cat', 'a dog', 'a dog']);
    expect(promptForLoop('plain', 3)).toBe('plain');
  });
});

describe('I2V/V2V references (prep_ref_and_mask)', () => {
  const shape = [1, 1, 6, 1, 1];
  it('i2v_head: frame 0 of the reference at frame 0', () => {
    const r = ref(3, 10);
    const p = prepRefAndMask('i2v_head', 5, [[r]], shape, 1);
    expect(p.maskIndex).toEqual([0]);
    expect(frames(p.ref)).toEqual([10, 0, 0, 0, 0, 0]);
    [r, p.ref].forEach((x) => x.dispose());
  });
  it('i2v_tail: the last reference frame at the last latent frame (loop 1); nothing in the first of several clips', () => {
    const r = ref(3, 10);
    const p = prepRefAndMask('i2v_tail', 5, [[r]], shape, 1);
    expect(p.maskIndex).toEqual([5]);
    expect(frames(p.ref)).toEqual([0, 0, 0, 0, 0, 12]);
    const q = prepRefAndMask('i2v_tail', 5, [[r]], shape, 3);
    expect(q.maskIndex).toEqual([]);
    expect(frames(q.ref)).toEqual([0, 0, 0, 0, 0, 0]);
    [r, p.ref, q.ref].forEach((x) => x.dispose());
  });
  it('i2v_loop: first and last frame, the last from the second reference when there is one', () => {
    const r = ref(3, 10);
    const r2 = ref(2, 50);
    const one = prepRefAndMask('i2v_loop', 5, [[r]], shape, 1);
    expect(one.maskIndex).toEqual([0, 5]);
    expect(frames(one.ref)).toEqual([10, 0, 0, 0, 0, 12]);
    const two = prepRefAndMask('i2v_loop', 5, [[r, r2]], shape, 1);
    expect(frames(two.ref)).toEqual([10, 0, 0, 0, 0, 50]);
    [r, r2, one.ref, two.ref].forEach((x) => x.dispose());
  });
  it('v2v_head: the first min(L, ref length, T) frames', () => {
    const r = ref(3, 10);
    const p = prepRefAndMask('v2v_head', 5, [[r]], shape, 1);
    expect(p.maskIndex).toEqual([0, 1, 2]);
    expect(frames(p.ref)).toEqual([10, 11, 12, 0, 0, 0]);
    [r, p.ref].forEach((x) => x.dispose());
  });
  it('later clips condition on the last L latents of the previous clip (+ tail for i2v_loop)', () => {
    const samples = tf.tensor([0, 1, 2, 3, 4, 5, 6, 7], [1, 1, 8, 1, 1]);
    const r = ref(3, 10);
    const shape8 = [1, 1, 8, 1, 1];
    const head = prepRefAndUpdateMaskInLoop('i2v_head', 5, samples, [[r]], shape8, false);
    expect(head.maskIndex).toEqual([0, 1, 2, 3, 4]);
    expect(frames(head.ref)).toEqual([3, 4, 5, 6, 7, 0, 0, 0]);
    const loop = prepRefAndUpdateMaskInLoop('i2v_loop', 5, samples, [[r]], shape8, false);
    expect(loop.maskIndex).toEqual([0, 1, 2, 3, 4, 7]);
    expect(frames(loop.ref)).toEqual([3, 4, 5, 6, 7, 0, 0, 12]);
    const tail = prepRefAndUpdateMaskInLoop('i2v_tail', 5, samples, [[r]], shape8, true);
    expect(tail.maskIndex).toEqual([0, 1, 2, 3, 4, 7]);
    [samples, r, head.ref, loop.ref, tail.ref].forEach((x) => x.dispose());
  });
});
