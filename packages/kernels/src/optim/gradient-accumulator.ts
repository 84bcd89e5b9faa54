// Gradient accumulation: an optimizer step over `steps` micro-batches. Each micro-batch's loss
// is divided by `steps` before its gradients are taken, and the gradients are summed, so for a
// mean loss the sum equals the gradient of the mean over all the micro-batches' samples (one big
// batch) while only one micro-batch's activations are alive at a time.
import { tf } from '../tf.js';
import type { Tensor } from '../tf.js';

export class GradientAccumulator {
  /** Micro-batches per optimizer step. */
  readonly steps: number;
  private sum: Map<string, Tensor> | null = null;
  private added = 0;

  constructor(steps = 1) {
    if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`GradientAccumulator: steps=${steps}: expected an integer >= 1 (micro-batches per optimizer step)`);
    this.steps = steps;
  }

  /** Micro-batches added since the last take(). */
  get count(): number {
    return this.added;
  }

  /** True once `steps` micro-batches have been added: time for take() and the optimizer step. */
  get ready(): boolean {
    return this.added >= this.steps;
  }

  /** A micro-batch's loss as it is differentiated: `loss.mean() / steps` (call inside the grad function). */
  scaleLoss(loss: Tensor): tf.Scalar {
    return loss.mean().div(this.steps) as tf.Scalar;
  }

  /** `1 / steps`: the factor for a loss built of several terms, each multiplied by it before its gradients are taken. */
  get lossScale(): number {
    return 1 / this.steps;
  }

  /** The micro-batch loss back from the scaled value variableGrads returned (for logging). */
  unscaleLoss(scaled: number): number {
    return scaled * this.steps;
  }

  /** Adds a micro-batch's gradients into the sum, per name; takes ownership of `grads` (disposed or kept). */
  add(grads: Map<string, Tensor>): void {
    this.added++;
    if (!this.sum) {
      this.sum = grads;
      return;
    }
    for (const [k, v] of grads) {
      const prev = this.sum.get(k);
      this.sum.set(k, prev ? tf.add(prev, v) : v.clone());
      prev?.dispose();
      v.dispose();
    }
  }

  /** The summed gradients (the caller owns and disposes them); the accumulator starts over. */
  take(): Map<string, Tensor> {
    if (!this.sum) throw new Error('GradientAccumulator.take(): no gradients were added since the last take(); call add() with each micro-batch\'s gradients first');
    const out = this.sum;
    this.sum = null;
    this.added = 0;
    return out;
  }

  /** Frees a partial sum (an interrupted step); the accumulator can be used again. */
  dispose(): void {
    if (this.sum) for (const t of this.sum.values()) t.dispose();
    this.sum = null;
    this.added = 0;
  }
}
