import { describe, expect, it } from 'vitest';
import { tf } from '../tf.js';
import type { Tensor } from '../tf.js';
import { averageGradients, averageStepGradients, meanOverRanks } from './average-gradients.js';
import { inProcessGroups } from './in-process.js';
import { singleProcessGroup } from './process-group.js';
import type { ProcessGroup, ReduceOp } from './process-group.js';

function gradsOf(rank: number): Map<string, Tensor> {
  return new Map<string, Tensor>([
    ['a.weight', tf.tensor2d([[1 + rank, 2], [3, 4 * rank]])],
    ['a.bias', tf.tensor1d([rank, -rank, 5])],
    ['b.weight', tf.fill([300], rank * 2)],
  ]);
}

/** Counts the all-reduces a group does (and their lengths). */
function counting(pg: ProcessGroup, log: number[]): ProcessGroup {
  return { ...pg, allReduce: (d: Float32Array, op?: ReduceOp) => (log.push(d.length), pg.allReduce(d, op)) } as ProcessGroup;
}

describe('averageGradients', () => {
  it('world size 1: the same map, no copies', async () => {
    const g = gradsOf(0);
    const before = tf.memory().numTensors;
    expect(await averageGradients(singleProcessGroup(), g)).toBe(g);
    expect(tf.memory().numTensors).toBe(before);
    for (const t of g.values()) t.dispose();
  });

  for (const bucketBytes of [undefined, 16, 1200]) {
    it(`2 ranks: the mean of each gradient, shapes kept (bucketBytes ${bucketBytes ?? 'default'})`, async () => {
      const logs: number[][] = [[], []];
      const pgs = inProcessGroups(2).map((pg, r) => counting(pg, logs[r]!));
      const inputs = [gradsOf(0), gradsOf(1)];
      const outs = await Promise.all(pgs.map((pg, r) => averageGradients(pg, inputs[r]!, bucketBytes === undefined ? {} : { bucketBytes })));
      for (const out of outs) {
        expect([...out.keys()]).toEqual(['a.weight', 'a.bias', 'b.weight']);
        expect(out.get('a.weight')!.shape).toEqual([2, 2]);
        expect(await out.get('a.weight')!.array()).toEqual([[1.5, 2], [3, 2]]);
        expect(await out.get('a.bias')!.array()).toEqual([0.5, -0.5, 5]);
        expect(Array.from(await out.get('b.weight')!.data())).toEqual(new Array(300).fill(1));
      }
      // One all-reduce per bucket: everything in one by default; one per gradient at 16 bytes;
      // at 1200 bytes the two small ones together, the 1200-byte one alone.
      const expected = bucketBytes === undefined ? [307] : bucketBytes === 16 ? [4, 3, 300] : [7, 300];
      expect(logs[0]).toEqual(expected);
      expect(inputs[0]!.get('a.weight')!.arraySync()).toEqual([[1, 2], [3, 0]]); // inputs untouched
      for (const m of [...inputs, ...outs]) for (const t of m.values()) t.dispose();
    });
  }

  it('refuses a non-float gradient by name, and a bad bucket size', async () => {
    const pgs = inProcessGroups(2);
    const g = new Map<string, Tensor>([['step', tf.scalar(1, 'int32')]]);
    await expect(averageGradients(pgs[0]!, g)).rejects.toThrow(/gradient 'step' is int32; expected float32/);
    await expect(averageGradients(pgs[0]!, g, { bucketBytes: 0 })).rejects.toThrow(/bucketBytes=0/);
    g.get('step')!.dispose();
  });
});

describe('averageStepGradients and meanOverRanks', () => {
  it('2 ranks: the mean gradients, the inputs disposed, the time taken', async () => {
    const pgs = inProcessGroups(2);
    const inputs = [gradsOf(0), gradsOf(1)];
    const before = tf.memory().numTensors;
    const outs = await Promise.all(pgs.map((pg, r) => averageStepGradients(pg, inputs[r]!)));
    expect(tf.memory().numTensors).toBe(before);
    for (const g of inputs.flatMap((m) => [...m.values()])) expect(g.isDisposed).toBe(true);
    for (const out of outs) {
      expect(out.ms).toBeGreaterThanOrEqual(0);
      expect(await out.grads.get('a.bias')!.array()).toEqual([0.5, -0.5, 5]);
      tf.dispose([...out.grads.values()]);
    }
  });

  it('world size 1: the same map, nothing disposed', async () => {
    const g = gradsOf(0);
    const out = await averageStepGradients(singleProcessGroup(), g);
    expect(out.grads).toBe(g);
    for (const t of g.values()) expect(t.isDisposed).toBe(false);
    tf.dispose([...g.values()]);
  });

  it('a number\'s mean over ranks; non-finite on one rank is non-finite on all', async () => {
    const pgs = inProcessGroups(3);
    expect(await Promise.all(pgs.map((pg) => meanOverRanks(pg, pg.rank * 3)))).toEqual([3, 3, 3]);
    const nan = await Promise.all(pgs.map((pg) => meanOverRanks(pg, pg.rank === 1 ? Number.NaN : 1)));
    for (const v of nan) expect(v).toBeNaN();
    expect(await meanOverRanks(singleProcessGroup(), Number.NaN)).toBeNaN();
  });
});
