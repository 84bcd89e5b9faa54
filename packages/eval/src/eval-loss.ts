// The validation-loss protocol (spec §3.8): for each (resolution, frames) bucket, the loss at the
// fixed untransformed timesteps 1000·k/(n+1) averaged over the bucket's samples, then over the
// timesteps. The per-bucket arithmetic is the flow package's `evalBucketLoss`; this runs it over
// the buckets of a config, reports progress and gathers the tables.
import { evalBucketLoss, evalLossTimesteps, type EvalBatch, type ModelFn } from '@opensora-ts/flow';
import { evalBuckets, type EvalBucket, type EvalLossConfig } from './eval-loss-config.js';

export interface BucketLoss {
  resolution: string;
  numFrames: number;
  /** Samples in the bucket. */
  samples: number;
  batches: number;
  /** Mean per-sample loss at each timestep (same order as `timesteps`). */
  lossPerTimestep: number[];
  /** Mean over the timesteps. */
  loss: number;
}

export interface EvalLossReport {
  timesteps: number[];
  buckets: BucketLoss[];
  /** Buckets with no data (the reference logs and skips them). */
  skipped: { resolution: string; numFrames: number; reason: string }[];
  config: EvalLossConfig;
}

export interface EvalLossProgress {
  bucket: EvalBucket;
  bucketIndex: number;
  buckets: number;
  timestepIndex: number;
  timesteps: number;
  batch: number;
  batchesInBucket: number;
}

export interface RunEvalLossOptions {
  onProgress?: (p: EvalLossProgress) => void;
  /** Called once a bucket is done (e.g. to write partial results). */
  onBucket?: (b: BucketLoss) => void;
}

/**
 * Scores every bucket of `config`. `batchesFor(bucket)` yields the bucket's batches (latents, text
 * states, video size) or [] when it has no data; the batches are reused for every timestep and
 * disposed here afterwards.
 */
export async function runEvalLoss(
  model: ModelFn,
  batchesFor: (bucket: EvalBucket) => Promise<EvalBatch[]>,
  config: EvalLossConfig,
  o: RunEvalLossOptions = {},
): Promise<EvalLossReport> {
  const timestepDtype = config.dtype === 'bf16' ? 'bfloat16' : 'float32';
  const timesteps = evalLossTimesteps(config.num_eval_timesteps, { numTimesteps: config.num_timesteps, dtype: timestepDtype });
  const list = evalBuckets(config);
  const report: EvalLossReport = { timesteps, buckets: [], skipped: [], config };
  for (let bi = 0; bi < list.length; bi++) {
    const bucket = list[bi]!;
    const batches = await batchesFor(bucket);
    if (batches.length === 0) {
      report.skipped.push({ resolution: bucket.resolution, numFrames: bucket.numFrames, reason: 'no sample of the data fits this bucket' });
      continue;
    }
    try {
      let pass = -1;
      const r = await evalBucketLoss(
        model,
        // evalBucketLoss walks the data once per timestep: count the passes for the progress report.
        function* () {
          pass++;
          for (let k = 0; k < batches.length; k++) {
            o.onProgress?.({ bucket, bucketIndex: bi, buckets: list.length, timestepIndex: pass, timesteps: timesteps.length, batch: k, batchesInBucket: batches.length });
            yield batches[k]!;
          }
        },
        { numEvalTimesteps: config.num_eval_timesteps, numTimesteps: config.num_timesteps, timestepDtype, seed: config.seed },
      );
      const b: BucketLoss = {
        resolution: bucket.resolution,
        numFrames: bucket.numFrames,
        samples: batches.reduce((s, x) => s + x.x0.shape[0]!, 0),
        batches: batches.length,
        lossPerTimestep: r.lossPerTimestep,
        loss: r.loss,
      };
      report.buckets.push(b);
      o.onBucket?.(b);
    } finally {
      for (const x of batches) {
        x.x0.dispose();
        x.text.y.dispose();
        x.text.mask?.dispose();
        x.text.yNull?.dispose();
      }
    }
  }
  return report;
}

/** Markdown tables: loss per bucket, and loss per timestep for each bucket. */
export function evalLossTables(r: EvalLossReport, digits = 4): string {
  const f = (x: number) => x.toFixed(digits);
  const lines: string[] = [];
  lines.push('| resolution | frames | samples | loss |', '|---|---:|---:|---:|');
  for (const b of r.buckets) lines.push(`| ${b.resolution} | ${b.numFrames} | ${b.samples} | ${f(b.loss)} |`);
  for (const s of r.skipped) lines.push(`| ${s.resolution} | ${s.numFrames} | 0 | skipped: ${s.reason} |`);
  lines.push('');
  const head = r.buckets.map((b) => `${b.resolution}/${b.numFrames}f`);
  lines.push(`| t | ${head.join(' | ')} |`, `|---:|${head.map(() => '---:').join('|')}|`);
  r.timesteps.forEach((t, k) => lines.push(`| ${t.toFixed(2)} | ${r.buckets.map((b) => f(b.lossPerTimestep[k]!)).join(' | ')} |`));
  return lines.join('\n');
}
