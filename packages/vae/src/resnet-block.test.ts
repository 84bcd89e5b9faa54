import { describe, expect, it } from 'vitest';
import { initRuntime, silu, tf } from '@opensora-ts/kernels';
import { Res3DBlockUpsample } from './resample.js';
import { Resnet3DBlock, normSilu } from './resnet-block.js';

/** Bytes that `run` adds to tf.memory() at its peak, beyond what is live before it. */
async function peakExtraBytes(run: () => tf.Tensor): Promise<number> {
  const start = tf.memory().numBytes;
  const p = await tf.profile(() => tf.dispose(run()));
  return p.peakBytes - start;
}

/** The most that any one of `ops` adds at its peak (its output and the backend's temporaries). */
async function largestOp(ops: (() => tf.Tensor)[]): Promise<number> {
  let most = 0;
  for (const op of ops) most = Math.max(most, await peakExtraBytes(op));
  return most;
}

// Issue 34: inside a block's tf.tidy every intermediate activation lived until the block returned,
// so a block held five or six at its end; PyTorch frees each as `h = f(h)` rebinds h. Bound: the
// block's largest single op (measured alone on an input of the same shape) plus its input alive.
describe('activation lifetimes inside the res blocks', () => {
  it('Resnet3DBlock frees each intermediate once the next exists', async () => {
    await initRuntime({ announce: false });
    let block: Resnet3DBlock | undefined;
    tf.tidy(() => {
      block = new Resnet3DBlock(8, 8, 0, 4);
    });
    const b = block!;
    const x = tf.randomNormal([1, 4, 16, 16, 8], 0, 1, 'float32', 1) as tf.Tensor5D;
    const a = x.size * 4;
    const op = await largestOp([() => normSilu(b.norm1, x), () => b.conv1.forward(x), () => normSilu(b.norm2, x), () => b.conv2.forward(x), () => tf.add(x, x)]);
    expect(await peakExtraBytes(() => b.forward(x))).toBeLessThanOrEqual(op + 1.25 * a);
    x.dispose();
    b.dispose();
  });

  it('Res3DBlockUpsample frees each intermediate once the next exists', async () => {
    await initRuntime({ announce: false });
    let block: Res3DBlockUpsample | undefined;
    tf.tidy(() => {
      block = new Res3DBlockUpsample(8, 4);
    });
    const b = block!;
    const y = tf.randomNormal([1, 4, 16, 16, 8], 0, 1, 'float32', 2) as tf.Tensor5D;
    const a = y.size * 4;
    const op = await largestOp([() => b.conv1.forward(y), () => normSilu(b.norm1, y), () => b.conv2.forward(y), () => b.norm2.forward(y), () => tf.add(y, y), () => silu(y)]);
    expect(await peakExtraBytes(() => b.forward(y))).toBeLessThanOrEqual(op + 1.25 * a);
    y.dispose();
    b.dispose();
  });
});
