// The eval-loss protocol of eval/loss/eval_loss.py (spec §3.8): for each bucket, the loss at each
// of the fixed untransformed timesteps T·k/(n+1) averaged over the data, then averaged over t.
import { SeededRandom, type Tensor } from '@opensora-ts/kernels';
import type { HostFloat } from './bf16.js';
import { trainingLoss } from './loss.js';
import type { ModelFn } from './model.js';
import { evalLossTimesteps } from './sampling-timesteps.js';
import type { VideoMeta } from './timestep-transform.js';

export interface EvalBatch {
  x0: Tensor;
  text: { y: Tensor; mask?: Tensor; yNull?: Tensor };
  meta: VideoMeta;
}

export interface EvalLossOptions {
  numEvalTimesteps?: number;
  numTimesteps?: number;
  /** 'bfloat16' feeds the timesteps as the bf16 reference does (91, 182, 272, ...). */
  timestepDtype?: HostFloat;
  /** Seed of the noise (the reference seeds 42). */
  seed?: number;
}

export interface EvalLossResult {
  timesteps: number[];
  /** Mean per-sample loss at each timestep. */
  lossPerTimestep: number[];
  /** The bucket loss: mean over the timesteps. */
  loss: number;
}

/**
 * The loss of one (resolution, frames) bucket. `batches` is called once per timestep and must yield
 * the same data each time (the reference re-iterates its dataloader); the batches are not disposed.
 */
export async function evalBucketLoss(model: ModelFn, batches: () => Iterable<EvalBatch> | AsyncIterable<EvalBatch>, o: EvalLossOptions = {}): Promise<EvalLossResult> {
  const timesteps = evalLossTimesteps(o.numEvalTimesteps ?? 10, { numTimesteps: o.numTimesteps, dtype: o.timestepDtype });
  const rng = new SeededRandom(o.seed ?? 42);
  const lossPerTimestep: number[] = [];
  for (const t of timesteps) {
    let sum = 0;
    let n = 0;
    for await (const b of batches()) {
      const B = b.x0.shape[0]!;
      const r = trainingLoss(model, b.x0, { text: b.text, meta: b.meta, t: new Array(B).fill(t), rng, numTimesteps: o.numTimesteps });
      const v = await r.loss.data();
      r.loss.dispose();
      for (const x of v) sum += x;
      n += B;
    }
    if (n === 0) throw new Error('evalBucketLoss: the bucket has no samples.');
    lossPerTimestep.push(sum / n);
  }
  return { timesteps, lossPerTimestep, loss: lossPerTimestep.reduce((a, b) => a + b, 0) / lossPerTimestep.length };
}
