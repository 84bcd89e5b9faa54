// DiT training (scripts/train.py of Open-Sora 1.3), wired from the packages: batches from the data
// package, latents and captions from the frozen VAE and text encoder (cached), the rectified-flow
// loss and I2V/V2V conditioning from flow, STDiT3 from stdit; AdamW with gradient accumulation and
// clipping, EMA every micro-step, the lr schedule, checkpoints that resume exactly.
import { join, resolve } from 'node:path';
import {
  corruptReference,
  drawTrainingCondition,
  evalBucketLoss,
  rowNormalTensor,
  sampleRandoms,
  sampleSeeds,
  streamSeed,
  TimeSampler,
  trainingLoss,
  type EvalBatch,
} from '@opensora-ts/flow';
import { AdamW, averageStepGradients, broadcastParameters, clipCoefficient, Ema, freeingVariableGrads, globalGradNorm, GradientAccumulator, lrSchedule, meanOverRanks, SeededRandom, singleProcessGroup, tf, type HostTensor, type Module, type ProcessGroup, type WritableTensor } from '@opensora-ts/kernels';
import { stdit3FlowModelFn, type STDiT3 } from '@opensora-ts/stdit';
import { LoadedCheckpoint, resolveCheckpoint, saveCheckpoint } from './checkpoint.js';
import type { DitTrainConfig } from './config.js';
import { openDataSource, ensureDataset } from './data-source.js';
import { checkTrainSizes } from './sizes.js';
import { checkpointOnRankZero, describeWorldSizeChange, emptyBatchError, fromRankZero, openRunLog, rankContext, rankZeroFirst, type RankContext } from './data-parallel.js';
import { latentCacheIdentity } from './cache-fill.js';
import { LatentEncoder, type EncodedBatch } from './latents.js';
import { buildDit, buildTextEncoder, buildVae } from './models.js';
import { createProgress, type Progress } from './progress.js';
import { microSeed, NonFiniteLossError, prepareRunFolder, refreshPlot, runPaths, startOrResume, STREAM, type RunPaths, withRunFolder } from './run-context.js';
import type { LoadedBatch, SamplerState } from '@opensora-ts/data';
import { StepMeter, type StepRecord } from './step-meter.js';

/** Options of a training run; `C` is the task's config (DiT here, VAE in vae-trainer). */
export interface TrainOptions<C = DitTrainConfig> {
  config: C;
  outDir: string;
  /** A checkpoint folder or run folder to continue from. */
  resume?: string | null;
  /** Stop (without a final checkpoint) after this many optimizer steps in this process: a simulated kill. */
  stopAfter?: number;
  /** Message sink (default stderr); progress lines go there too when not on a TTY. */
  log?: (line: string) => void;
  plainProgress?: boolean;
  /** Called after every optimizer step (tests watch memory here). */
  onStep?: (rec: StepRecord) => void;
  /** Skip the PNG plot (tests). */
  plot?: boolean;
  /**
   * The data-parallel group (initProcessGroup() under torchrun); default a world of one. Rank 0
   * alone writes the run folder; gradients and the logged loss are averaged over the ranks.
   */
  group?: ProcessGroup;
}

export type { StepRecord } from './step-meter.js';

export interface TrainResult {
  steps: StepRecord[];
  lastCheckpoint: string | null;
  paths: RunPaths;
  finalStep: number;
}

interface DitState {
  version: 1;
  task: 'dit';
  step: number;
  microStep: number;
  samplesSeen: number;
  sampler: SamplerState;
  optimizerStep: number;
  lr: number;
  /** Draws of micro-step m: batch-level from mixSeed(seed, m, stream), per sample from sampleSeeds(seed, m, global index). */
  rng: { seed: number; scheme: typeof RNG_SCHEME };
  /** Ranks of the run that wrote it (absent in checkpoints of single-process runs before data parallel). */
  worldSize?: number;
  config: DitTrainConfig;
}

export const RNG_SCHEME = 'mixSeed(seed, microStep, stream); per sample sampleSeeds(seed, microStep, globalIndex)';

/** Keys whose change between a checkpoint and the resumed run cannot alter the losses. */
const RESUME_FREE_KEYS = new Set(['max_steps', 'epochs', 'ckpt_every', 'log_every', 'keep_last', 'load', 'prefetch', 'cache_dir', 'eval_every', 'allow_empty_captions']);

export async function trainDit(o: TrainOptions): Promise<TrainResult> {
  const ctx = rankContext(o.group ?? singleProcessGroup(), o.log ?? ((l: string) => process.stderr.write(l + '\n')));
  // Rank 0 holds the run folder's lock; the other ranks write nothing there.
  return ctx.writer ? withRunFolder(o.outDir, ctx.say, () => trainDitLocked(o, ctx)) : trainDitLocked(o, ctx);
}

async function trainDitLocked(o: TrainOptions, rc: RankContext): Promise<TrainResult> {
  const cfg = o.config;
  const { pg, writer, say } = rc;
  const resumeFrom = o.resume ?? cfg.load;
  // Every rank resumes from the checkpoint rank 0 resolved (the newest one it sees).
  const ckptDir = await fromRankZero(pg, resumeFrom && writer ? resolveCheckpoint(resumeFrom) : null);
  const paths = runPaths(o.outDir);
  const log = openRunLog(paths.log, writer);
  const csv = (await rankZeroFirst(rc, async () => {
    prepareRunFolder(paths, cfg);
    return ensureDataset(cfg, paths.out, say);
  })) ?? (await ensureDataset(cfg, paths.out, say));
  const textEncoder = buildTextEncoder(cfg);
  const vae = buildVae(cfg.vae, say, 'vae', cfg.seed);
  const model = buildDit(cfg, textEncoder, vae.zChannels, say);
  const enc = new LatentEncoder(
    vae,
    textEncoder,
    resolve(cfg.cache_dir ?? `${paths.out}/cache`),
    latentCacheIdentity(cfg, csv),
    // One cache folder for all ranks (and `opensora-train cache`), each rank a writer of its own shards and index.
    { seed: cfg.seed, samplePosterior: cfg.latent_sample === 'sample', frameInterval: cfg.dataset.frame_interval, ...(pg.worldSize > 1 ? { cacheWriter: `rank-${pg.rank}` } : {}) },
  );
  checkTrainSizes(cfg, enc.codec, say);
  const ds = await openDataSource(cfg, csv, { cache: enc.cache, log: say, skippedCsv: join(paths.out, pg.worldSize > 1 ? `skipped-rank-${pg.rank}.csv` : 'skipped.csv'), replicas: { numReplicas: pg.worldSize, rank: pg.rank } });

  model.train();
  const named = [...model.namedParameters()].filter(([, p]) => p.trainable && p.variable);
  const vars = named.map(([, p]) => p.variable!);
  const nameOfVar = new Map(named.map(([n, p]) => [p.variable!.name, n]));
  const opt = new AdamW(
    named.map(([n, p]) => [n, p.variable!] as [string, tf.Variable]),
    { lr: cfg.lr, betas: cfg.adam_betas, eps: cfg.adam_eps, weightDecay: cfg.weight_decay },
  );
  const ema = new Ema(model, cfg.ema_decay);
  const A = cfg.accumulation_steps;
  // Each micro-batch's loss is divided by A and the gradients summed: one optimizer step per A micro-batches.
  const accum = new GradientAccumulator(A);
  const stepsPerEpoch = Math.max(1, Math.floor(ds.sampler.length() / A));
  const total = cfg.max_steps ?? stepsPerEpoch * cfg.epochs;
  // The reference's scheduler advances every micro-step; an update's lr is read at its first micro-batch.
  const schedule = lrSchedule({ lr: cfg.lr, warmupSteps: cfg.warmup_steps, cosine: cfg.use_cosine_scheduler, totalSteps: total * A, initialLr: cfg.initial_lr });
  const timeSampler = trainingTimeSampler(cfg.scheduler);
  const dropCondition = cfg.drop_condition ?? cfg.scheduler.drop_condition ?? undefined;
  const fn = stdit3FlowModelFn(model);
  const yNull = () => model.yEmbedder.yEmbedding.tensor!;

  const resumed = ckptDir ? new LoadedCheckpoint<DitState>(ckptDir) : null;
  if (resumed) restore(resumed, model, ema, opt, ds.sampler, cfg, say);
  else await broadcastParameters(pg, vars);
  const worldChange = resumed ? describeWorldSizeChange(resumed.state.worldSize, pg.worldSize) : null;
  if (worldChange) say(`warning: ${worldChange}`);
  let { step, microStep, samplesSeen, lastCheckpoint, lastSavedStep } = startOrResume(log, say, resumed, {
    params: model.parameterCount(),
    trainable: model.parameterCount({ trainableOnly: true }),
    samples: ds.rows.length,
    steps_per_epoch: stepsPerEpoch,
    total_steps: total,
  });
  if (pg.worldSize > 1) say(`data parallel: rank ${pg.rank} of ${pg.worldSize} (${pg.backend}); global batch = ${pg.worldSize} x the bucket's batch size`);
  say(`DiT: ${(model.parameterCount() / 1e6).toFixed(2)}M parameters (${(model.parameterCount({ trainableOnly: true }) / 1e6).toFixed(2)}M trainable); ${ds.rows.length} samples, ${stepsPerEpoch} steps/epoch, ${total} steps`);

  // Eval runs on rank 0 alone (the others go on to the next step and wait for it there).
  const evalSet = cfg.eval_every > 0 && writer ? await buildEvalSet(cfg, csv, enc, say) : null;
  const runEval = async () => {
    if (!evalSet) return;
    model.eval();
    let sum = 0;
    let n = 0;
    for (const b of evalSet) {
      const r = await evalBucketLoss(fn, () => [b], { seed: 42, numTimesteps: cfg.scheduler.num_timesteps });
      sum += r.loss * b.x0.shape[0]!;
      n += b.x0.shape[0]!;
    }
    model.train();
    const loss = sum / n;
    log.write({ type: 'eval', step, loss, samples: n });
    progress.log(`eval loss at step ${step}: ${loss.toFixed(5)} (${n} samples, 10 fixed timesteps)`);
  };

  const progress: Progress = createProgress({ every: cfg.log_every, plain: o.plainProgress || !writer, write: writer ? o.log : () => {} });
  const records: StepRecord[] = [];
  const stopAt = o.stopAfter !== undefined ? Math.min(total, step + o.stopAfter) : total;
  const save = async () => {
    enc.flush();
    lastCheckpoint = await checkpointOnRankZero(pg, writer ? writeCheckpoint : null, step);
    lastSavedStep = step;
    if (!writer) return;
    log.write({ type: 'checkpoint', step, path: lastCheckpoint });
    progress.log(`checkpoint: ${lastCheckpoint}`);
    if (o.plot !== false) await refreshPlot(paths, log, `STDiT3 training (${cfg.model.type})`, progress);
  };
  const writeCheckpoint = (): string => {
    const tensors = new Map<string, Map<string, WritableTensor>>();
    tensors.set('model', hostStateDict(model));
    tensors.set('ema', ema.stateDict());
    tensors.set('optimizer', optimizerTensors(opt));
    const state: DitState = {
      version: 1,
      task: 'dit',
      step,
      microStep,
      samplesSeen,
      sampler: ds.loader.state(),
      optimizerStep: opt.step,
      lr: opt.lr,
      rng: { seed: cfg.seed, scheme: RNG_SCHEME },
      worldSize: pg.worldSize,
      config: cfg,
    };
    return saveCheckpoint(paths.checkpoints, step, { tensors, state }, cfg.keep_last);
  };

  let acc: Map<string, tf.Tensor> | null = null;
  let lastNorm = 0;
  let allReduceMs = 0;
  const meter = new StepMeter();
  progress.start(total, step);
  if (!ckptDir && evalSet) await runEval();
  try {
    outer: while (step < stopAt && (cfg.max_steps !== null || ds.sampler.state().epoch < cfg.epochs)) {
      for await (const lb of ds.loader) {
        if (lb.items.length === 0) {
          const stop = emptyBatchError(rc, lb.batch.keys, join(paths.out, `skipped-rank-${pg.rank}.csv`));
          if (stop) throw stop;
          continue;
        }
        const b = await enc.encode(lb);
        try {
          if (meter.micro === 0) opt.lr = schedule(microStep);
          const micro = await microBatchLoss(b, lb, microStep);
          // The loss of the global batch (all ranks): what is logged, and non-finite on every rank at once.
          micro.loss = await meanOverRanks(pg, micro.loss);
          if (!Number.isFinite(micro.loss)) {
            tf.dispose([...micro.grads.values()]);
            log.write({ type: 'nonfinite', step: step + 1, loss: String(micro.loss), samples: b.keys });
            throw new NonFiniteLossError(step + 1, micro.loss, b.keys, lastCheckpoint, { lr: cfg.lr, gradClip: cfg.grad_clip });
          }
          accum.add(micro.grads);
          meter.addMicro(micro.loss, b.x0.shape[0]! * pg.worldSize);
        } finally {
          b.dispose();
        }
        microStep++;
        if (meter.micro === A) {
          // Clipping rides on the update (gradScale): the numbers of clipGradNorm's copies, without the copies.
          // Gradients averaged over ranks (in buckets), then the norm and clip of the averaged ones.
          acc = accum.take();
          const avg = await averageStepGradients(pg, acc);
          acc = avg.grads;
          allReduceMs = avg.ms;
          lastNorm = globalGradNorm(acc);
          opt.apply(acc, { gradScale: clipCoefficient(lastNorm, cfg.grad_clip) });
          tf.dispose([...acc!.values()]);
          acc = null;
        }
        ema.update();
        if (meter.micro < A) continue;
        step++;
        samplesSeen += meter.stepSamples;
        const rec: StepRecord = meter.finish({ step, epoch: lb.state.epoch, lr: opt.lr, grad_norm: lastNorm }, pg.worldSize > 1 ? { allreduce_ms: allReduceMs } : {});
        records.push(rec);
        log.write(rec as unknown as Record<string, unknown> & { type: string });
        progress.update({ step, loss: rec.loss, samplesPerSec: rec.samples_per_sec, lr: rec.lr });
        o.onStep?.(rec);
        if (evalSet && step % cfg.eval_every === 0) await runEval();
        if (cfg.ckpt_every > 0 && step % cfg.ckpt_every === 0) await save();
        if (step >= stopAt) break outer;
      }
    }
    // A natural end (steps or epochs done) always leaves a checkpoint of the final step.
    if (o.stopAfter === undefined && step > 0 && lastSavedStep !== step) {
      if (evalSet && step % cfg.eval_every !== 0) await runEval();
      await save();
    }
  } finally {
    if (acc) tf.dispose([...acc.values()]);
    accum.dispose();
    progress.stop();
    enc.close();
    opt.dispose();
    ema.dispose();
    model.dispose();
    vae.dispose();
    textEncoder.dispose();
    if (evalSet) for (const b of evalSet) tf.dispose([b.x0, b.text.y, b.text.mask!]);
  }
  log.write({ type: 'end', step });
  return { steps: records, lastCheckpoint, paths, finalStep: step };

  // One micro-batch: its draws (seeded by the micro-step), the loss and its gradients.
  async function microBatchLoss(b: EncodedBatch, lb: LoadedBatch, m: number): Promise<{ loss: number; grads: Map<string, tf.Tensor> }> {
    const [T, H, W] = lb.batch.thw;
    // Batch-level draws (mask type, drop condition) from (seed, m): the same on every rank. Per-sample
    // draws (t, noise, caption dropout, drop path, noisy reference) from (seed, m, global sample index).
    const rng = new SeededRandom(microSeed(cfg.seed, m, STREAM.flow));
    model.rng.reseed(microSeed(cfg.seed, m, STREAM.model));
    const seeds = sampleSeeds(cfg.seed, m, lb.batch.offset ?? 0, b.x0.shape[0]!);
    const draw = drawTrainingCondition(rng, { maskTypes: cfg.mask_types, numFrames: T, latentT: b.x0.shape[2], classDropoutProb: model.config.class_dropout_prob });
    let xNoisyRef: tf.Tensor | undefined;
    if (draw.noisyRatio !== null) {
      const px = await enc.pixels(lb);
      const noise = rowNormalTensor(sampleRandoms(seeds, 'noisyRef'), px.shape.slice(1));
      const bad = corruptReference(px, draw.noisyRatio, noise) as tf.Tensor5D;
      // Encoded row by row: each sample's posterior draw comes from its own seed.
      const rows = seeds.map((s, i) =>
        tf.tidy(() => enc.codec.encode(tf.slice(bad, [i, 0, 0, 0, 0], [1, -1, -1, -1, -1]) as tf.Tensor5D, { samplePosterior: cfg.latent_sample === 'sample', seed: streamSeed(s, 'posterior') })),
      );
      xNoisyRef = tf.concat(rows, 0);
      tf.dispose([px, noise, bad, ...rows]);
    }
    const meta = { height: H, width: W, numFrames: T, fps: b.fps };
    const conditioned = draw.maskIndex.length > 0;
    try {
      const { value, grads } = freeingVariableGrads(() => {
        const r = trainingLoss(fn, b.x0, {
          text: { y: b.y, mask: b.mask, yNull: yNull() },
          meta,
          rng,
          sampleSeeds: seeds,
          timeSampler,
          maskIndex: draw.maskIndex,
          dropCondition: conditioned ? (dropCondition ?? { keep: 1 }) : undefined,
          textUncondProb: draw.textUncondProb,
          xNoisyRef,
          numTimesteps: cfg.scheduler.num_timesteps,
          temporalDiffWeight: cfg.temporal_diff_loss_weight,
        });
        return accum.scaleLoss(r.loss);
      }, vars);
      const loss = accum.unscaleLoss(value.dataSync()[0]!);
      value.dispose();
      const out = new Map<string, tf.Tensor>();
      for (const [vn, g] of Object.entries(grads)) out.set(nameOfVar.get(vn)!, g);
      return { loss, grads: out };
    } finally {
      xNoisyRef?.dispose();
    }
  }
}

/** The training timestep sampler of a config's scheduler keys. */
export function trainingTimeSampler(s: DitTrainConfig['scheduler']): TimeSampler {
  return new TimeSampler({
    sampleMethod: s.sample_method,
    loc: s.loc,
    scale: s.scale,
    useTimestepTransform: s.use_timestep_transform,
    useDiscreteTimesteps: s.use_discrete_timesteps,
    numTimesteps: s.num_timesteps,
    transformScale: 1.0, // RFLOW forces 1.0 in training
  });
}

/** The model's parameters and buffers as host tensors (PyTorch layout, the reference's key names). */
export function hostStateDict(model: Module): Map<string, WritableTensor> {
  const out = new Map<string, WritableTensor>();
  for (const [k, t] of model.stateDict()) {
    const data = t.dataSync();
    out.set(k, { shape: [...t.shape], data: data instanceof Float32Array || data instanceof Int32Array ? data : Float32Array.from(data as ArrayLike<number>) });
    t.dispose();
  }
  return out;
}

/** AdamW moments as `exp_avg.<param>` / `exp_avg_sq.<param>` (compute layout). */
export function optimizerTensors(opt: AdamW): Map<string, WritableTensor> {
  const out = new Map<string, WritableTensor>();
  for (const [name, s] of opt.state().moments) {
    out.set(`exp_avg.${name}`, { shape: s.shape, data: s.m });
    out.set(`exp_avg_sq.${name}`, { shape: s.shape, data: s.v });
  }
  return out;
}

export function loadOptimizer(opt: AdamW, ck: LoadedCheckpoint<{ optimizerStep: number }>, file = 'optimizer', step = ck.state.optimizerStep): void {
  const t = ck.read(file);
  const moments = new Map<string, { m: HostTensor; v: HostTensor }>();
  for (const [k, v] of t) {
    const m = /^exp_avg(_sq)?\.(.+)$/.exec(k);
    if (!m) continue;
    const e = moments.get(m[2]!) ?? ({} as { m: HostTensor; v: HostTensor });
    if (m[1]) e.v = v;
    else e.m = v;
    moments.set(m[2]!, e);
  }
  opt.load(step, moments, ck.path(file));
}

/** Warns when a checkpoint was written by a version that drew its randoms another way (before per-sample draws). */
export function warnRngScheme(saved: string | undefined, now: string, say: (l: string) => void): void {
  if (saved !== undefined && saved !== now) say(`warning: the checkpoint's random draws follow '${saved}', this version's '${now}'; the resumed run will not repeat the uninterrupted one exactly.`);
}

/** Warns about config changes between the checkpoint and this run that can change the losses. */
export function compareConfigs(saved: unknown, now: unknown, say: (l: string) => void): void {
  const a = (saved ?? {}) as Record<string, unknown>;
  const b = (now ?? {}) as Record<string, unknown>;
  const changed = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => !RESUME_FREE_KEYS.has(k) && JSON.stringify(a[k]) !== JSON.stringify(b[k]));
  if (changed.length) say(`warning: resuming with a changed config (${changed.join(', ')}); the run will not repeat the uninterrupted one exactly.`);
}

function restore(ck: LoadedCheckpoint<DitState>, model: STDiT3, ema: Ema, opt: AdamW, sampler: { restore(s: SamplerState): void }, cfg: DitTrainConfig, say: (l: string) => void): void {
  if (ck.state.task !== 'dit') throw new Error(`${ck.dir}: a '${ck.state.task}' checkpoint cannot resume DiT training.`);
  compareConfigs(ck.state.config, cfg, say);
  warnRngScheme(ck.state.rng?.scheme, RNG_SCHEME, say);
  model.loadStateDict(ck.read('model'), { source: ck.path('model') });
  ema.load(ck.read('ema'), ck.path('ema'));
  loadOptimizer(opt, ck);
  opt.lr = ck.state.lr;
  sampler.restore(ck.state.sampler);
}

/** The eval set: the first `eval_batches` batches of epoch 0 (a fresh sampler), encoded once. */
async function buildEvalSet(cfg: DitTrainConfig, csv: string, enc: LatentEncoder, say: (l: string) => void): Promise<EvalBatch[]> {
  const ds = await openDataSource(cfg, csv, { cache: enc.cache, log: () => {} });
  const out: EvalBatch[] = [];
  for await (const lb of ds.loader) {
    if (lb.items.length === 0) continue;
    const b = await enc.encode(lb);
    const [T, H, W] = lb.batch.thw;
    out.push({ x0: b.x0, text: { y: b.y, mask: b.mask }, meta: { height: H, width: W, numFrames: T, fps: b.fps } });
    if (out.length >= cfg.eval_batches) break;
  }
  say(`eval set: ${out.reduce((a, b) => a + b.x0.shape[0]!, 0)} samples in ${out.length} batch(es), loss at 10 fixed timesteps every ${cfg.eval_every} steps`);
  return out;
}
