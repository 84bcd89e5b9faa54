// VAE training (configs/vae_v1_3/train/video_16z.py, scripts/train_opensoravae_v1_3.py): the VAE
// loss (L1 [+ LPIPS] with the fixed logvar, KL), the 3D PatchGAN with its own optimizer and the
// adaptive generator weight, mixed_image_ratio, and the same checkpoints / resume as the DiT.
// The adaptive weight needs the gradients of the NLL and of the generator term separately at
// decoder.conv_out.weight; both are taken over every VAE weight (two passes with the same draws)
// and combined linearly, so the update equals the reference's single backward of the sum.
import { join } from 'node:path';
import type { LoadedBatch, SamplerState } from '@opensora-ts/data';
import { rowNormalTensor, sampleRandoms, sampleSeeds } from '@opensora-ts/flow';
import { AdamW, averageGradients, averageStepGradients, broadcastParameters, clipCoefficient, freeingVariableGrads, globalGradNorm, GradientAccumulator, lrSchedule, meanOverRanks, mixSeed, readCheckpoint, SeededRandom, singleProcessGroup, tf, toChannelsLast, type WritableTensor } from '@opensora-ts/kernels';
import {
  adaptiveGeneratorWeight,
  ChunkedVideoCodec,
  createVaeLoss,
  DiagonalGaussian,
  discriminatorLoss,
  generatorLoss,
  loadVaeWeights,
  NLayerDiscriminator3D,
  type GanLossOptions,
  type OpenSoraVAE,
} from '@opensora-ts/vae';
import { LoadedCheckpoint, resolveCheckpoint, saveCheckpoint } from './checkpoint.js';
import type { VaeTrainConfig } from './config.js';
import { ensureDataset, openDataSource } from './data-source.js';
import { checkTrainSizes } from './sizes.js';
import { compareConfigs, hostStateDict, loadOptimizer, optimizerTensors, warnRngScheme, type TrainOptions, type TrainResult } from './dit-trainer.js';
import { StepMeter, type StepRecord } from './step-meter.js';
import { checkpointOnRankZero, describeWorldSizeChange, emptyBatchError, fromRankZero, openRunLog, rankContext, rankZeroFirst, type RankContext } from './data-parallel.js';
import { buildVae, weightsPath } from './models.js';
import { createProgress } from './progress.js';
import { withSeededMathRandom } from './seeded-init.js';
import { microSeed, NonFiniteLossError, prepareRunFolder, refreshPlot, runPaths, startOrResume, STREAM, withRunFolder } from './run-context.js';

export type VaeTrainOptions = TrainOptions<VaeTrainConfig>;

interface VaeState {
  version: 1;
  task: 'vae';
  step: number;
  microStep: number;
  samplesSeen: number;
  sampler: SamplerState;
  optimizerStep: number;
  discOptimizerStep: number;
  lr: number;
  rng: { seed: number; scheme: typeof RNG_SCHEME };
  /** Ranks of the run that wrote it (absent before data parallel: 1). */
  worldSize?: number;
  config: VaeTrainConfig;
}

const RNG_SCHEME = 'mixSeed(seed, microStep, stream); posterior per sample sampleSeeds(seed, microStep, globalIndex)';

const LAST_LAYER = 'decoder.conv_out.weight';

export async function trainVae(o: VaeTrainOptions): Promise<TrainResult> {
  const ctx = rankContext(o.group ?? singleProcessGroup(), o.log ?? ((l: string) => process.stderr.write(l + '\n')));
  return ctx.writer ? withRunFolder(o.outDir, ctx.say, () => trainVaeLocked(o, ctx)) : trainVaeLocked(o, ctx);
}

async function trainVaeLocked(o: VaeTrainOptions, rc: RankContext): Promise<TrainResult> {
  const cfg = o.config;
  const { pg, writer, say } = rc;
  const from = o.resume ?? cfg.load;
  const ckptDir = await fromRankZero(pg, from && writer ? resolveCheckpoint(from) : null);
  const paths = runPaths(o.outDir);
  const log = openRunLog(paths.log, writer);
  const csv = (await rankZeroFirst(rc, async () => {
    prepareRunFolder(paths, cfg);
    return ensureDataset(cfg, paths.out, say);
  })) ?? (await ensureDataset(cfg, paths.out, say));
  // Training runs the whole clip at once: no micro-batching, tiling or latent normalization.
  const vae: OpenSoraVAE = buildVae(cfg.model, say, 'model', cfg.seed);
  const codec = new ChunkedVideoCodec(vae, { micro_batch_size: null, use_tiled_conv3d: false, normalization: null });
  checkTrainSizes(cfg, codec, say);
  const ds = await openDataSource(cfg, csv, { log: say, skippedCsv: join(paths.out, pg.worldSize > 1 ? `skipped-rank-${pg.rank}.csv` : 'skipped.csv'), replicas: { numReplicas: pg.worldSize, rank: pg.rank } });
  vae.train();
  const lossFn = createVaeLoss({ ...cfg.vae_loss_config, log: say });
  const gan: GanLossOptions | null = cfg.gan_loss_confg && cfg.discriminator ? cfg.gan_loss_confg : null;
  let disc: NLayerDiscriminator3D | null = null;
  if (cfg.discriminator) {
    const d = cfg.discriminator;
    disc = withSeededMathRandom(cfg.seed + 1, () => new NLayerDiscriminator3D({ input_nc: d.input_nc, ndf: d.ndf, n_layers: d.n_layers }));
    if (d.from_pretrained) {
      const path = weightsPath(d.from_pretrained, 'discriminator');
      disc.loadStateDict(readCheckpoint(path), { source: path });
      say(`discriminator: weights from ${path}`);
    }
    disc.train();
  }

  const named = [...vae.namedParameters()].filter(([n, p]) => p.trainable && p.variable && !(cfg.freeze_encoder && n.startsWith('encoder.')));
  if (cfg.freeze_encoder) say(`freeze_encoder: training the decoder only (${named.length} tensors)`);
  const vars = named.map(([, p]) => p.variable!);
  const nameOfVar = new Map(named.map(([n, p]) => [p.variable!.name, n]));
  const opt = new AdamW(named.map(([n, p]) => [n, p.variable!] as [string, tf.Variable]), { lr: cfg.lr, betas: cfg.adam_betas, eps: cfg.adam_eps, weightDecay: cfg.weight_decay });
  const dNamed = disc ? [...disc.namedParameters()].filter(([, p]) => p.trainable && p.variable) : [];
  const dVars = dNamed.map(([, p]) => p.variable!);
  const dNameOfVar = new Map(dNamed.map(([n, p]) => [p.variable!.name, n]));
  const dOpt = disc ? new AdamW(dNamed.map(([n, p]) => [n, p.variable!] as [string, tf.Variable]), { lr: cfg.lr, betas: cfg.adam_betas, eps: cfg.adam_eps, weightDecay: cfg.weight_decay }) : null;

  const A = cfg.accumulation_steps;
  // Each micro-batch's loss terms are scaled by 1/A and the gradients summed (the discriminator's apart).
  const accum = new GradientAccumulator(A);
  const dAccum = new GradientAccumulator(A);
  const stepsPerEpoch = Math.max(1, Math.floor(ds.sampler.length() / A));
  const total = cfg.max_steps ?? stepsPerEpoch * cfg.epochs;
  // video_16z.py: LinearWarmupLR from 0.
  const schedule = lrSchedule({ lr: cfg.lr, warmupSteps: cfg.warmup_steps, cosine: cfg.use_cosine_scheduler, totalSteps: total * A, initialLr: 0 });

  let resumed: LoadedCheckpoint<VaeState> | null = null;
  if (ckptDir) {
    const ck = new LoadedCheckpoint<VaeState>(ckptDir);
    if (ck.state.task !== 'vae') throw new Error(`${ckptDir}: a '${ck.state.task}' checkpoint cannot resume VAE training.`);
    compareConfigs(ck.state.config, cfg, say);
    warnRngScheme(ck.state.rng?.scheme, RNG_SCHEME, say);
    loadVaeWeights(vae, ck.path('model'));
    loadOptimizer(opt, ck);
    if (disc && dOpt) {
      disc.loadStateDict(ck.read('discriminator'), { source: ck.path('discriminator') });
      loadOptimizer(dOpt, ck, 'disc_optimizer', ck.state.discOptimizerStep);
    }
    ds.sampler.restore(ck.state.sampler);
    resumed = ck;
    const change = describeWorldSizeChange(ck.state.worldSize, pg.worldSize);
    if (change) say(`warning: ${change}`);
  } else await broadcastParameters(pg, [...vars, ...dVars]);
  let { step, microStep, samplesSeen, lastCheckpoint, lastSavedStep } = startOrResume(log, say, resumed, {
    params: vae.parameterCount(),
    samples: ds.rows.length,
    steps_per_epoch: stepsPerEpoch,
    total_steps: total,
  });
  say(`VAE: ${(vae.parameterCount() / 1e6).toFixed(2)}M parameters${disc ? `, discriminator ${(disc.parameterCount() / 1e6).toFixed(2)}M` : ''}; ${ds.rows.length} samples, ${total} steps`);

  if (pg.worldSize > 1) say(`data parallel: rank ${pg.rank} of ${pg.worldSize} (${pg.backend}); global batch = ${pg.worldSize} x the batch size`);
  const progress = createProgress({ every: cfg.log_every, plain: o.plainProgress || !writer, write: writer ? o.log : () => {} });
  const records: StepRecord[] = [];
  const stopAt = o.stopAfter !== undefined ? Math.min(total, step + o.stopAfter) : total;
  const save = async () => {
    lastCheckpoint = await checkpointOnRankZero(pg, writer ? writeCheckpoint : null, step);
    lastSavedStep = step;
    if (!writer) return;
    log.write({ type: 'checkpoint', step, path: lastCheckpoint });
    progress.log(`checkpoint: ${lastCheckpoint}`);
    if (o.plot !== false) await refreshPlot(paths, log, 'VAE training', progress);
  };
  const writeCheckpoint = (): string => {
    const tensors = new Map<string, Map<string, WritableTensor>>([
      ['model', hostStateDict(vae)],
      ['optimizer', optimizerTensors(opt)],
    ]);
    if (disc && dOpt) {
      tensors.set('discriminator', hostStateDict(disc));
      tensors.set('disc_optimizer', optimizerTensors(dOpt));
    }
    const state: VaeState = {
      version: 1,
      task: 'vae',
      step,
      microStep,
      samplesSeen,
      sampler: ds.loader.state(),
      optimizerStep: opt.step,
      discOptimizerStep: dOpt?.step ?? 0,
      lr: opt.lr,
      rng: { seed: cfg.seed, scheme: RNG_SCHEME },
      worldSize: pg.worldSize,
      config: cfg,
    };
    return saveCheckpoint(paths.checkpoints, step, { tensors, state }, cfg.keep_last);
  };

  let acc: Map<string, tf.Tensor> | null = null;
  let dAcc: Map<string, tf.Tensor> | null = null;
  const meter = new StepMeter();
  let terms: Record<string, number> = {};
  let lastNorm = 0;
  let allReduceMs = 0;
  progress.start(total, step);
  try {
    outer: while (step < stopAt && (cfg.max_steps !== null || ds.sampler.state().epoch < cfg.epochs)) {
      for await (const lb of ds.loader) {
        if (lb.items.length === 0) {
          const stop = emptyBatchError(rc, lb.batch.keys, join(paths.out, `skipped-rank-${pg.rank}.csv`));
          if (stop) throw stop;
          continue;
        }
        if (meter.micro === 0) {
          opt.lr = schedule(microStep);
          if (dOpt) dOpt.lr = opt.lr;
        }
        const video = batchVideo(lb, cfg, microStep);
        // Posterior noise per sample, from (seed, micro-step, global sample index): the same on any rank.
        const noise = cfg.latent_sample === 'sample' ? posteriorNoise(video, microStep, lb.batch.offset ?? 0) : null;
        try {
          const r = await microStepGrads(video, microStep, step, noise);
          r.loss = await meanOverRanks(pg, r.loss);
          terms = r.terms;
          if (!Number.isFinite(r.loss)) {
            tf.dispose([...r.grads.values(), ...(r.dGrads?.values() ?? [])]);
            const ids = lb.items.map((it) => `${it.row.id} (${it.row.fields.path ?? it.row.path})`);
            log.write({ type: 'nonfinite', step: step + 1, loss: String(r.loss), samples: ids });
            throw new NonFiniteLossError(step + 1, r.loss, ids, lastCheckpoint, { lr: cfg.lr, gradClip: cfg.grad_clip });
          }
          accum.add(r.grads);
          if (r.dGrads) dAccum.add(r.dGrads);
          meter.addMicro(r.loss, video.shape[0] * pg.worldSize);
        } finally {
          video.dispose();
          noise?.dispose();
        }
        microStep++;
        if (meter.micro < A) continue;
        // Clipping rides on the update (gradScale): the numbers of clipGradNorm's copies, without the copies.
        acc = accum.take();
        const avg = await averageStepGradients(pg, acc);
        acc = avg.grads;
        allReduceMs = avg.ms;
        lastNorm = globalGradNorm(acc);
        opt.apply(acc, { gradScale: clipCoefficient(lastNorm, cfg.grad_clip) });
        tf.dispose([...acc.values()]);
        acc = null;
        if (dAccum.count > 0) dAcc = dAccum.take();
        if (dAcc && dOpt) {
          const dAvg = await averageStepGradients(pg, dAcc);
          dAcc = dAvg.grads;
          allReduceMs += dAvg.ms;
          dOpt.apply(dAcc, { gradScale: clipCoefficient(globalGradNorm(dAcc), cfg.grad_clip) });
          tf.dispose([...dAcc.values()]);
          dAcc = null;
        }
        step++;
        samplesSeen += meter.stepSamples;
        const rec: StepRecord & Record<string, unknown> = meter.finish({ step, epoch: lb.state.epoch, lr: opt.lr, grad_norm: lastNorm }, pg.worldSize > 1 ? { ...terms, allreduce_ms: allReduceMs } : terms);
        records.push(rec);
        log.write(rec);
        progress.update({ step, loss: rec.loss, samplesPerSec: rec.samples_per_sec, lr: rec.lr });
        o.onStep?.(rec);
        if (cfg.ckpt_every > 0 && step % cfg.ckpt_every === 0) await save();
        if (step >= stopAt) break outer;
      }
    }
    if (o.stopAfter === undefined && step > 0 && lastSavedStep !== step) await save();
  } finally {
    if (acc) tf.dispose([...acc.values()]);
    if (dAcc) tf.dispose([...dAcc.values()]);
    accum.dispose();
    dAccum.dispose();
    progress.stop();
    opt.dispose();
    dOpt?.dispose();
    vae.dispose();
    disc?.dispose();
  }
  log.write({ type: 'end', step });
  return { steps: records, lastCheckpoint, paths, finalStep: step };

  /** Reconstruction, posterior and (optionally) discriminator logits of one forward, same draws each call. */
  function posteriorNoise(video: tf.Tensor5D, m: number, offset: number): tf.Tensor {
    const [B, , T, H, W] = video.shape;
    // The latent's frames as the codec encodes them: chunk by chunk, each a causal clip of its own.
    const t = T === 1 ? 1 : codec.encodeChunks(T).reduce((n, [s, e]) => n + Math.floor((e - s - 1) / vae.compression[0]) + 1, 0);
    const [, h, w] = codec.getLatentSize([T, H, W]) as [number, number, number];
    return rowNormalTensor(sampleRandoms(sampleSeeds(cfg.seed, m, offset, B), 'posterior'), [vae.zChannels, t, h, w]);
  }

  function forward(video: tf.Tensor5D, m: number, noise: tf.Tensor | null): { recon: tf.Tensor5D; posterior: DiagonalGaussian } {
    const r = codec.encodeWithPosterior(video, { samplePosterior: cfg.latent_sample === 'sample', noise, seed: microSeed(cfg.seed, m, STREAM.vaePosterior) });
    const recon = codec.decode(r.z);
    const T = video.shape[2];
    const cut = recon.shape[2] === T ? recon : (tf.slice(recon, [0, 0, recon.shape[2] - T, 0, 0], [-1, -1, T, -1, -1]) as tf.Tensor5D);
    const momentsCL = toChannelsLast(r.moments);
    const posterior = new DiagonalGaussian(momentsCL);
    tf.dispose([r.z, r.mean, r.logvar, r.moments]);
    if (cut !== recon) recon.dispose();
    momentsCL.dispose();
    return { recon: cut, posterior };
  }

  async function microStepGrads(video: tf.Tensor5D, m: number, globalStep: number, noise: tf.Tensor | null) {
    const scale = accum.lossScale;
    const t: Record<string, number> = {};
    // Pass 1: NLL + KL over every VAE weight.
    const p1 = freeingVariableGrads(() => {
      const f = forward(video, m, noise);
      const l = lossFn.forward(video, f.recon, f.posterior);
      t.nll_loss = l.nllLoss.dataSync()[0]!;
      t.kl_loss = l.weightedKlLoss.dataSync()[0]!;
      const out = tf.add(l.weightedNllLoss, l.weightedKlLoss).mul(scale) as tf.Scalar;
      f.posterior.dispose();
      return out;
    }, vars);
    let loss = p1.value.dataSync()[0]! / scale;
    p1.value.dispose();
    const grads = new Map<string, tf.Tensor>();
    for (const [vn, g] of Object.entries(p1.grads)) grads.set(nameOfVar.get(vn)!, g);
    let dGrads: Map<string, tf.Tensor> | undefined;
    const factor = gan ? (globalStep < (gan.disc_start ?? 2001) ? 0 : (gan.disc_factor ?? 1)) : 0;
    if (disc && gan && factor > 0) {
      // Pass 2: the generator term -mean(D(x̂)) over every VAE weight (same draws as pass 1).
      const p2 = freeingVariableGrads(() => {
        const f = forward(video, m, noise);
        const g = generatorLoss(disc!.forward(f.recon), 1, globalStep, { ...gan, disc_start: 0, disc_factor: 1 });
        f.posterior.dispose();
        return g.mul(scale) as tf.Scalar;
      }, vars);
      const gValue = p2.value.dataSync()[0]! / scale;
      p2.value.dispose();
      const gGrads = new Map<string, tf.Tensor>();
      for (const [vn, g] of Object.entries(p2.grads)) gGrads.set(nameOfVar.get(vn)!, g);
      // The adaptive weight from the global batch's last-layer gradients (their mean over ranks), so it
      // is the same on every rank and equals one process's. (The reference under DDP uses each rank's own.)
      const lastNll = await averageGradients(pg, new Map([[LAST_LAYER, grads.get(LAST_LAYER)!]]));
      const lastGen = await averageGradients(pg, new Map([[LAST_LAYER, gGrads.get(LAST_LAYER)!]]));
      const dWeight = adaptiveGeneratorWeight(lastNll.get(LAST_LAYER)!, lastGen.get(LAST_LAYER)!, gan.disc_weight ?? 0.5);
      if (pg.worldSize > 1) tf.dispose([lastNll.get(LAST_LAYER)!, lastGen.get(LAST_LAYER)!]);
      const w = dWeight * factor;
      for (const [k, g] of gGrads) {
        const prev = grads.get(k);
        grads.set(k, prev ? tf.tidy(() => prev.add(g.mul(w))) : tf.mul(g, w));
        prev?.dispose();
        g.dispose();
      }
      t.g_loss = gValue;
      t.d_weight = dWeight;
      loss += w * gValue;
      // Discriminator step on real vs. (detached) reconstruction.
      const recon = tf.tidy(() => {
        const f = forward(video, m, noise);
        f.posterior.dispose();
        return f.recon;
      });
      const p3 = freeingVariableGrads(() => discriminatorLoss(disc!.forward(video), disc!.forward(recon), globalStep, gan).mul(scale) as tf.Scalar, dVars);
      recon.dispose();
      t.d_loss = p3.value.dataSync()[0]! / scale;
      p3.value.dispose();
      dGrads = new Map();
      for (const [vn, g] of Object.entries(p3.grads)) dGrads.set(dNameOfVar.get(vn)!, g);
    }
    return { loss, grads, dGrads, terms: t };
  }
}

/** The batch as one tensor [B, 3, T, H, W]; with mixed_image_ratio, some micro-steps keep only frame 0. */
function batchVideo(lb: LoadedBatch, cfg: VaeTrainConfig, m: number): tf.Tensor5D {
  const [T, H, W] = lb.batch.thw;
  const n = 3 * T * H * W;
  const all = new Float32Array(lb.items.length * n);
  lb.items.forEach((it, i) => all.set(it.sample!.data, i * n));
  const x = tf.tensor(all, [lb.items.length, 3, T, H, W], 'float32') as tf.Tensor5D;
  const ratio = cfg.mixed_strategy === 'mixed_video_image' ? cfg.mixed_image_ratio : 0;
  if (ratio > 0 && T > 1 && new SeededRandom(mixSeed(cfg.seed, m, STREAM.vaeMix)).uniform() < ratio) {
    const img = tf.slice(x, [0, 0, 0, 0, 0], [-1, -1, 1, -1, -1]) as tf.Tensor5D;
    x.dispose();
    return img;
  }
  return x;
}

