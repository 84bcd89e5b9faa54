import { describe, expect, it } from 'vitest';
import { tf } from '../tf.js';
import { broadcastParameters } from './broadcast-parameters.js';
import { inProcessGroups } from './in-process.js';
import { singleProcessGroup } from './process-group.js';

describe('broadcastParameters', () => {
  it('every rank ends with the root rank\'s weights, shapes kept, nothing leaked', async () => {
    const pgs = inProcessGroups(3);
    const vars = pgs.map((pg) => [tf.variable(tf.fill([2, 3], pg.rank + 1)), tf.variable(tf.tensor1d([pg.rank * 10, -pg.rank]))]);
    const before = tf.memory().numTensors;
    await Promise.all(pgs.map((pg, r) => broadcastParameters(pg, vars[r]!)));
    expect(tf.memory().numTensors).toBe(before);
    for (const vs of vars) {
      expect(await vs[0]!.array()).toEqual([[1, 1, 1], [1, 1, 1]]);
      expect(await vs[1]!.array()).toEqual([0, -0]);
    }
    // Another root.
    vars[2]![1]!.assign(tf.tensor1d([7, 8]));
    await Promise.all(pgs.map((pg, r) => broadcastParameters(pg, [vars[r]![1]!], 2)));
    for (const vs of vars) expect(await vs[1]!.array()).toEqual([7, 8]);
    tf.dispose(vars.flat());
  });

  it('world size 1: the variables are left as they are', async () => {
    const v = tf.variable(tf.tensor1d([1, 2]));
    await broadcastParameters(singleProcessGroup(), [v]);
    expect(await v.array()).toEqual([1, 2]);
    v.dispose();
  });
});
