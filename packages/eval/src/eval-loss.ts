// The validation-loss protocol (spec §3.8): for each (resolution, frames) bucket, the loss at the
// fixed untransformed timesteps 1000·k/(n+1) averaged over the bucket's samples, then over the
// timesteps. The per-bucket arithmetic is the flow package's `evalBucketLoss`; this runs it over
// the buckets of a config, reports progress and gathers the tables. Sharded over a process group,
// each rank scores its share of every bucket's batches and the per-sample losses are gathered
// and summed in bucket order, so N ranks report what one process reports.
import { shardOf, singleProcessGroup, type ProcessGroup } from '@opensora-ts/kernels';
import { evalBucketLoss, evalLossTimesteps, type EvalBatch, type ModelFn } from '@opensora-ts/flow';
import { gatherOutcomes } from './sharded.js';
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
  /** The k-th batch this process scores in the bucket (0-based) ... */
  batch: number;
  /** ... of this many (its share when sharded). */
  batchesInBucket: number;
}

/** Where a bucket's batches come from when the run is sharded: a count, then any subset loaded. */
export interface EvalLossSource {
  /** Batches the bucket makes (0 when no sample fits); e.g. `evalBatchCount`. */
  count(bucket: EvalBucket): number | Promise<number>;
  /** The batches at these positions (ascending), each with its position as `index`; a batch that could not be read may be left out. */
  load(bucket: EvalBucket, positions: number[]): Promise<EvalBatch[]>;
}

/** One scored batch: its per-sample losses at each timestep ([timestep][sample]); [] when it could not be read. */
export type BatchLosses = number[][];

export interface RunEvalLossOptions {
  onProgress?: (p: EvalLossProgress) => void;
  /** Called once a bucket is done (e.g. to write partial results). */
  onBucket?: (b: BucketLoss) => void;
  /**
   * Split the batches of every bucket over the ranks of this group (the kernels package's
   * shardOf, strided); every rank returns the merged report. Default: one process scores all.
   */
  group?: ProcessGroup;
  /** Batches already scored (a resumed run): their losses, or undefined to score them. */
  done?: (bucket: EvalBucket, index: number) => BatchLosses | undefined;
  /** Called as each batch is scored (e.g. to store it for a resume). */
  onBatchDone?: (bucket: EvalBucket, index: number, losses: BatchLosses) => void;
}

function disposeBatch(x: EvalBatch): void {
  x.x0.dispose();
  x.text.y.dispose();
  x.text.mask?.dispose();
  x.text.yNull?.dispose();
}

/** A batches-per-bucket function as a source: it loads the whole bucket, the unchosen batches are dropped. */
function sourceOf(batchesFor: (bucket: EvalBucket) => Promise<EvalBatch[]>): EvalLossSource {
  const loaded = new Map<EvalBucket, EvalBatch[]>();
  return {
    async count(bucket) {
      const all = (await batchesFor(bucket)).map((b, i) => ({ ...b, index: b.index ?? i }));
      loaded.set(bucket, all);
      return all.length;
    },
    async load(bucket, positions) {
      const all = loaded.get(bucket) ?? [];
      loaded.delete(bucket);
      const keep = new Set(positions);
      for (const b of all) if (!keep.has(b.index!)) disposeBatch(b);
      return all.filter((b) => keep.has(b.index!));
    },
  };
}

/** The in-order sum that evalBucketLoss uses, so merged per-sample losses give its float64 exactly. */
function meanOf(xs: readonly number[]): number {
  let sum = 0;
  for (const x of xs) sum += x;
  return sum / xs.length;
}

/**
 * Scores every bucket of `config`. `batchesFor(bucket)` yields the bucket's batches (latents, text
 * states, video size) or [] when it has no data; or, for a sharded run that loads only its share,
 * an `EvalLossSource`. Batches are disposed here once scored. The noise of each batch depends on
 * (seed, timestep, batch position) only, so the report is the same on any number of ranks.
 */
export async function runEvalLoss(
  model: ModelFn,
  batchesFor: ((bucket: EvalBucket) => Promise<EvalBatch[]>) | EvalLossSource,
  config: EvalLossConfig,
  o: RunEvalLossOptions = {},
): Promise<EvalLossReport> {
  const source = typeof batchesFor === 'function' ? sourceOf(batchesFor) : batchesFor;
  const group = o.group ?? singleProcessGroup();
  const timestepDtype = config.dtype === 'bf16' ? 'bfloat16' : 'float32';
  const timesteps = evalLossTimesteps(config.num_eval_timesteps, { numTimesteps: config.num_timesteps, dtype: timestepDtype });
  const list = evalBuckets(config);
  const report: EvalLossReport = { timesteps, buckets: [], skipped: [], config };
  for (let bi = 0; bi < list.length; bi++) {
    const bucket = list[bi]!;
    const count = await source.count(bucket);
    const owned = shardOf(count, group);
    // A failure on one rank fails every rank (named), instead of leaving the others in the gather.
    const gathered = await gatherOutcomes(group, async () => {
      const mine = new Map<number, BatchLosses>();
      for (const i of owned) {
        const d = o.done?.(bucket, i);
        if (d) mine.set(i, d);
      }
      const todo = owned.filter((i) => !mine.has(i));
      const batches = todo.length ? await source.load(bucket, todo) : [];
      try {
        for (let k = 0; k < batches.length; k++) {
          const b = batches[k]!;
          let pass = -1;
          const r = await evalBucketLoss(
            model,
            // evalBucketLoss walks the data once per timestep: count the passes for the progress report.
            function* () {
              pass++;
              o.onProgress?.({ bucket, bucketIndex: bi, buckets: list.length, timestepIndex: pass, timesteps: timesteps.length, batch: k, batchesInBucket: batches.length });
              yield b;
            },
            { numEvalTimesteps: config.num_eval_timesteps, numTimesteps: config.num_timesteps, timestepDtype, seed: config.seed },
          );
          mine.set(b.index!, r.perSample);
          o.onBatchDone?.(bucket, b.index!, r.perSample);
        }
      } finally {
        for (const x of batches) disposeBatch(x);
      }
      // Batches that could not be read count as done with no samples (a resumed run does not retry them).
      for (const i of todo) {
        if (!mine.has(i)) {
          mine.set(i, []);
          o.onBatchDone?.(bucket, i, []);
        }
      }
      return [...mine.entries()];
    });
    // Every rank's batches, back in bucket order: the per-sample losses one process would have summed.
    const byIndex = new Map<number, BatchLosses>(gathered.flat());
    const perT: number[][] = timesteps.map(() => []);
    let samples = 0;
    let scored = 0;
    for (let i = 0; i < count; i++) {
      const l = byIndex.get(i);
      if (!l) throw new Error(`eval loss: batch ${i} of bucket ${bucket.resolution}/${bucket.numFrames}f came back from no rank (world size ${group.worldSize}).`);
      if (l.length === 0) continue;
      if (l.length !== timesteps.length) throw new Error(`eval loss: batch ${i} of bucket ${bucket.resolution}/${bucket.numFrames}f has losses at ${l.length} timesteps, expected ${timesteps.length} (a stored result of another config?).`);
      l.forEach((x, t) => perT[t]!.push(...x));
      samples += l[0]!.length;
      scored++;
    }
    if (samples === 0) {
      report.skipped.push({ resolution: bucket.resolution, numFrames: bucket.numFrames, reason: count === 0 ? 'no sample of the data fits this bucket' : 'no sample of this bucket could be read' });
      continue;
    }
    const lossPerTimestep = perT.map(meanOf);
    const b: BucketLoss = {
      resolution: bucket.resolution,
      numFrames: bucket.numFrames,
      samples,
      batches: scored,
      lossPerTimestep,
      loss: lossPerTimestep.reduce((a, x) => a + x, 0) / lossPerTimestep.length,
    };
    report.buckets.push(b);
    o.onBucket?.(b);
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
