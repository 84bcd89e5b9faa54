import { describe, expect, it } from 'vitest';
import { tf } from '@opensora-ts/kernels';
import { DemoTextEncoder } from './demo-encoder.js';
import { preparePrompt } from './prepare-prompt.js';

describe('DemoTextEncoder', () => {
  it('encodes with no files, deterministically, and distinguishes prompts', async () => {
    const a = new DemoTextEncoder({ maxLength: 32 });
    const b = new DemoTextEncoder({ maxLength: 32 });
    const prompt = preparePrompt('A red circle moves left', { aes: 6.5 }).final;
    const ea = await a.encode([prompt, 'a blue square moves right']);
    const eb = await b.encode([prompt]);
    const again = await b.encode([prompt, 'a blue square moves right']);
    expect(ea.states.shape).toEqual([2, 1, 32, a.dim]);
    const sa = (await ea.states.data()) as Float32Array;
    const sb = (await eb.states.data()) as Float32Array;
    // Two instances, the same batch: bit for bit (weights come from the seed, not from files).
    expect(Array.from((await again.states.data()) as Float32Array)).toEqual(Array.from(sa));
    // A different batch composition changes BLAS blocking, so only rounding may differ.
    for (let i = 0; i < sb.length; i++) expect(Math.abs(sb[i]! - sa[i]!)).toBeLessThan(1e-5 * (1 + Math.abs(sa[i]!)));
    let diff = 0;
    for (let i = 0; i < sb.length; i++) diff += Math.abs(sa[i]! - sa[i + sb.length]!);
    expect(diff).toBeGreaterThan(1);
    const m = Array.from(await ea.mask.data());
    // "a red circle moves left the aesthetic score is excellent." -> 10 words + "." + </s>
    expect(m.slice(0, 32).reduce((x, y) => x + y, 0)).toBe(12);
    for (const t of [ea.states, ea.mask, eb.states, eb.mask, again.states, again.mask]) t.dispose();
    a.dispose();
    b.dispose();
  });

  it('reports words outside its vocabulary', () => {
    const enc = new DemoTextEncoder({ maxLength: 8 });
    expect(enc.knownWords().has('triangle')).toBe(true);
    expect(enc.unknownWords('a red dragon flies over the square')).toEqual(['dragon', 'flies']);
    enc.dispose();
  });

  it('changes with the seed', async () => {
    const a = new DemoTextEncoder({ maxLength: 8, seed: 1 });
    const b = new DemoTextEncoder({ maxLength: 8, seed: 2 });
    const [x, y] = await Promise.all([a.encode(['red']), b.encode(['red'])]);
    expect(tf.sum(tf.abs(tf.sub(x.states, y.states))).dataSync()[0]).toBeGreaterThan(0.1);
    tf.dispose([x.states, x.mask, y.states, y.mask]);
    a.dispose();
    b.dispose();
  });

  it('with wordOrder, appends channels in which a direction word carries the colour before it', async () => {
    const plain = new DemoTextEncoder({ maxLength: 24 });
    const ordered = new DemoTextEncoder({ maxLength: 24, wordOrder: true });
    expect(ordered.dim).toBe(2 * plain.dim);
    expect(ordered.id).toBe('demo-t5:seed1234:len24:word-order');
    // The same words, colours swapped between the two clauses.
    const prompts = ['a blue square moves to the left and a red circle moves to the right.', 'a red square moves to the left and a blue circle moves to the right.'];
    const p = await plain.encode(prompts);
    const o = await ordered.encode(prompts);
    // The first half is the plain encoder's output.
    expect(Array.from((await tf.slice(o.states, [0, 0, 0, 0], [-1, -1, -1, plain.dim]).data()) as Float32Array)).toEqual(Array.from((await p.states.data()) as Float32Array));
    // Token 6 is "left": how much its features change when the colours swap, relative to their size.
    const change = (s: tf.Tensor, from: number, size: number) =>
      tf.tidy(() => {
        const left = tf.slice(s, [0, 0, 6, from], [2, 1, 1, size]);
        const [a, b] = tf.split(left, 2, 0);
        return tf.norm(tf.sub(a!, b!)).dataSync()[0]! / tf.norm(a!).dataSync()[0]!;
      });
    const plainChange = change(p.states, 0, plain.dim);
    const orderChange = change(o.states, plain.dim, plain.dim);
    expect(plainChange).toBeLessThan(0.2);
    expect(orderChange).toBeGreaterThan(2 * plainChange);
    tf.dispose([p.states, p.mask, o.states, o.mask]);
    plain.dispose();
    ordered.dispose();
  });
});
