import { expect, it } from 'vitest';
import { tf } from '../tf.js';
import { describeEachBackend } from '../testing/backends.js';
import { expectClose } from '../testing/assert.js';
import { timestepEmbedding } from './timestep-embedding.js';

/** [cos(t f_j) for j < half, sin(t f_j) for j < half, (0 if dim is odd)], f_j = maxPeriod^(-j/half), in float64. */
function embeddingByHand(ts: number[], dim: number, maxPeriod: number): Float64Array {
  const half = Math.floor(dim / 2);
  const out = new Float64Array(ts.length * dim);
  ts.forEach((t, i) => {
    for (let j = 0; j < half; j++) {
      const f = maxPeriod ** (-j / half);
      out[i * dim + j] = Math.cos(t * f);
      out[i * dim + half + j] = Math.sin(t * f);
    }
  });
  return out;
}

describeEachBackend('timestepEmbedding', () => {
  it('is cos first, then sin, computed in float64', () => {
    const ts = [0, 1, 731.5, 999];
    const e = timestepEmbedding(ts, 16);
    expect(e.shape).toEqual([4, 16]);
    // float32 rounding of the float64 values only
    expectClose(e, embeddingByHand(ts, 16, 10000), { atol: 1e-7, rtol: 0 });
    const row0 = e.dataSync().slice(0, 16);
    expect(Array.from(row0.slice(0, 8))).toEqual(new Array(8).fill(1)); // cos(0)
    expect(Array.from(row0.slice(8))).toEqual(new Array(8).fill(0)); // sin(0)
    e.dispose();
  });

  it('pads an odd dim with a zero column and honours maxPeriod', () => {
    const e = timestepEmbedding([3.25, 500], 7, 100);
    expectClose(e, embeddingByHand([3.25, 500], 7, 100), { atol: 1e-7, rtol: 0 });
    expect(e.dataSync()[6]).toBe(0);
    e.dispose();
  });
});
