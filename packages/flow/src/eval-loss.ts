// The eval-loss protocol of eval/loss/eval_loss.py (spec §3.8): for each bucket, the loss at each
// of the fixed untransformed timesteps T·k/(n+1) averaged over the data, then averaged over t.
// The noise of batch b at the k-th timestep is drawn from mixSeed(seed, k, b), not from one stream
// over the whole bucket, so a batch's losses do not depend on which batches were scored before it:
// ranks that each score a share of the batches give the numbers of one process scoring them all.
import { mixSeed, SeededRandom, type Tensor } from '@opensora-ts/kernels';
import type { HostFloat } from './bf16.js';
import { trainingLoss } from './loss.js';
import type { ModelFn } from './model.js';
import { evalLossTimesteps } from './sampling-timesteps.js';
import type { VideoMeta } from './timestep-transform.js';

export interface EvalBatch {
  x0: Tensor;
  text: { y: Tensor; mask?: Tensor; yNull?: Tensor };
  meta: VideoMeta;
  /** The batch's position in the bucket, which seeds its noise; default its position in the iteration. */
  index?: number;
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
  /** Each sample's loss at each timestep ([timestep][sample], samples in iteration order). */
  perSample: number[][];
}

/**
 * The loss of one (resolution, frames) bucket. `batches` is called once per timestep and must yield
 * the same data each time (the reference re-iterates its dataloader); the batches are not disposed.
 */
export async function evalBucketLoss(model: ModelFn, batches: () => Iterable<EvalBatch> | AsyncIterable<EvalBatch>, o: EvalLossOptions = {}): Promise<EvalLossResult> {
  const timesteps = evalLossTimesteps(o.numEvalTimesteps ?? 10, { numTimesteps: o.numTimesteps, dtype: o.timestepDtype });
  const seed = o.seed ?? 42;
  const lossPerTimestep: number[] = [];
  const perSample: number[][] = [];
  for (let k = 0; k < timesteps.length; k++) {
    const t = timesteps[k]!;
    const losses: number[] = [];
    let position = 0;
    for await (const b of batches()) {
      const B = b.x0.shape[0]!;
      const rng = new SeededRandom(mixSeed(seed, k, b.index ?? position));
      position++;
      const r = trainingLoss(model, b.x0, { text: b.text, meta: b.meta, t: new Array(B).fill(t), rng, numTimesteps: o.numTimesteps });
      const v = await r.loss.data();
      r.loss.dispose();
      for (const x of v) losses.push(x);
    }
    if (losses.length === 0) throw new Error('evalBucketLoss: the bucket has no samples.');
    perSample.push(losses);
    lossPerTimestep.push(meanOf(losses));
  }
  return { timesteps, lossPerTimestep, loss: lossPerTimestep.reduce((a, b) => a + b, 0) / lossPerTimestep.length, perSample };
}

/**
 * The mean of per-sample losses, summed in order: the sum every merge of the eval loss uses, so
 * per-sample losses gathered from several ranks and put back in order give the same float64 as
 * one process.
 */
function meanOf(losses: readonly number[]): number {
  let sum = 0;
  for (const x of losses) sum += x;
  return sum / losses.length;
}
