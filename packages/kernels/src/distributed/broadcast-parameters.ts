// Every rank starts from one rank's weights (as PyTorch DDP does at construction): whatever each
// rank built or loaded, after this call all hold the root's values.
import { tf } from '../tf.js';
import type { ProcessGroup } from './process-group.js';

/**
 * Overwrites every variable on every rank with the root's values (default rank 0), one broadcast
 * per variable, in order: every rank passes the same variables (names, shapes, order). At world
 * size 1 it does nothing.
 */
export async function broadcastParameters(pg: ProcessGroup, vars: readonly tf.Variable[], root = 0): Promise<void> {
  if (pg.worldSize === 1) return;
  for (const v of vars) {
    if (v.dtype !== 'float32') throw new TypeError(`broadcastParameters: variable '${v.name}' is ${v.dtype}; expected float32`);
    const data = Float32Array.from(v.dataSync() as Float32Array);
    await pg.broadcast(data, root);
    if (pg.rank !== root) {
      const t = tf.tensor(data, v.shape, 'float32');
      v.assign(t);
      t.dispose();
    }
  }
}
