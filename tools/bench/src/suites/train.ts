// `pnpm bench train`: one full DiT optimizer step, as the train app takes it, on our backends and
// on the reference STDiT3 in PyTorch, for the stdit suite's tiny and mid configs (same weights,
// same fixed synthetic batch, same threads). A step is: the rectified-flow training loss (logit-
// normal timesteps with the resolution/length shift, noise, the velocity prediction, MSE),
// backward, clip_grad_norm 1.0, AdamW (lr 1e-4, eps 1e-15, weight decay 0) and the EMA update
// (decay 0.99). AdamW, the clipping and the EMA are kernels' optim, which the train app uses, so the
// bench times the code that trains; the loss is flow's `trainingLoss`, as in apps/train/src/dit-trainer.ts.
// Rows give ms per step and samples/s; before timing, both sides compute the per-sample loss at
// fixed timesteps and noise on the initial weights, and the torch row reports how far apart they are.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { TimeSampler, trainingLoss, type VideoMeta } from '@opensora-ts/flow';
import { AdamW, clipCoefficient, Ema, freeingVariableGrads, globalGradNorm, SeededRandom, tf } from '@opensora-ts/kernels';
import { STDiT3, parseSTDiT3Config, stdit3FlowModelFn, type STDiT3ConfigInput } from '@opensora-ts/stdit';
import { useBackend } from '../backends.js';
import type { SuiteOptions } from '../cli.js';
import { runIsolated } from '../isolated.js';
import { measure, measuredRow, py, readTensors, referenceRows, scratchDir, writeTensors, type Measurement, type ReferenceCase } from '../model-harness.js';
import { withCaseTorchRatios, type CaseRow } from '../report.js';
import type { TimingOptions } from '../timing.js';
import { loadStditCase, MODELS as STDIT_MODELS, writeStditCase } from './stdit.js';

const SUITE = 'train';

/** The optimizer step of the bench (the reference's AdamW settings; weight decay 0 as its configs). */
export const STEP_SETTINGS = { lr: 1e-4, betas: [0.9, 0.999] as [number, number], eps: 1e-15, weightDecay: 0, gradClip: 1.0, emaDecay: 0.99, numTimesteps: 1000 };

/**
 * Samples per step. The stdit suite times inference at batch 1; a training step is taken at 2 so
 * the two rows draw different timesteps and the per-step optimizer/EMA cost is shared.
 */
export const BATCH = 2;

/** Fixed timesteps (one per row) of the loss check against the reference. */
const CHECK_T = [250, 750];

interface TrainSpec {
  config: STDiT3ConfigInput;
  /** Latent [B, C, T, H, W]: the stdit suite's per-sample shape at batch BATCH. */
  latent: [number, number, number, number, number];
  validTokens: number;
  cpu: boolean;
}

/** The stdit suite's tiny and mid models and latent shapes, at batch BATCH. */
export const MODELS: Record<string, TrainSpec> = Object.fromEntries(
  Object.entries(STDIT_MODELS).map(([name, s]) => {
    const [, c, t, h, w] = s.latent;
    return [name, { config: s.config, latent: [BATCH, c, t, h, w], validTokens: s.validTokens, cpu: s.cpu }];
  }),
);

const TIMING: TimingOptions = { warmup: 1, minReps: 3, maxReps: 20, budgetMs: 5000 };
const SLOW_TIMING: TimingOptions = { warmup: 0, minReps: 1, maxReps: 1, budgetMs: 0 };

/** The video a latent [B, C, T, H, W] stands for: 8x spatial, 1.3's 4x temporal (5 latent frames = 17 frames), 24 fps. */
export function metaOf(latent: readonly number[]): Required<Pick<VideoMeta, 'height' | 'width' | 'numFrames' | 'fps'>> {
  const [, , t, h, w] = latent as [number, number, number, number, number];
  return { height: h * 8, width: w * 8, numFrames: t === 1 ? 1 : (t - 1) * 4 + 1, fps: 24 };
}

// ---- the step -----------------------------------------------------------------------------------

/** A fixed synthetic batch: latents, caption states and their mask, and the video size. */
export interface TrainBatch {
  x0: tf.Tensor;
  y: tf.Tensor;
  mask: tf.Tensor;
  meta: VideoMeta;
}

export interface TrainStepper {
  /** One optimizer step (loss, backward, clipping, AdamW, EMA); the batch loss and the gradient norm before clipping. */
  step(): { loss: number; gradNorm: number };
  /** The per-sample loss at fixed timesteps and noise on the current weights, no gradients (the caller disposes it). */
  lossAt(t: number[], noise: tf.Tensor): tf.Tensor;
  readonly optimizer: AdamW;
  readonly ema: Ema;
  dispose(): void;
}

/**
 * The train app's DiT step on a fixed batch (t2v: no frame conditioning). Every call draws new
 * timesteps and noise from `seed`'s generator, as training would; the model is put in train mode.
 */
export function createTrainStep(model: STDiT3, batch: TrainBatch, seed = 0): TrainStepper {
  const s = STEP_SETTINGS;
  model.train();
  const named = [...model.namedParameters()].filter(([, p]) => p.trainable && p.variable);
  const vars = named.map(([, p]) => p.variable!);
  const nameOfVar = new Map(named.map(([n, p]) => [p.variable!.name, n]));
  const optimizer = new AdamW(named.map(([n, p]) => [n, p.variable!] as [string, tf.Variable]), { lr: s.lr, betas: s.betas, eps: s.eps, weightDecay: s.weightDecay });
  const ema = new Ema(model, s.emaDecay);
  // RFLOW's training sampler in the 1.3 configs: logit-normal with the shift, transform scale 1.
  const timeSampler = new TimeSampler({ sampleMethod: 'logit-normal', useTimestepTransform: true, transformScale: 1.0, numTimesteps: s.numTimesteps });
  const rng = new SeededRandom(seed);
  const fn = stdit3FlowModelFn(model);
  const text = { y: batch.y, mask: batch.mask };
  return {
    optimizer,
    ema,
    step() {
      const { value, grads } = freeingVariableGrads(
        () => trainingLoss(fn, batch.x0, { text, meta: batch.meta, rng, timeSampler, numTimesteps: s.numTimesteps }).loss.mean() as tf.Scalar,
        vars,
      );
      const loss = value.dataSync()[0]!;
      value.dispose();
      const byName = new Map<string, tf.Tensor>();
      for (const [vn, g] of Object.entries(grads)) byName.set(nameOfVar.get(vn)!, g);
      // As the train app does: the clipping coefficient rides on the AdamW update.
      const gradNorm = globalGradNorm(byName);
      optimizer.apply(byName, { gradScale: clipCoefficient(gradNorm, s.gradClip) });
      tf.dispose(Object.values(grads));
      ema.update();
      return { loss, gradNorm };
    },
    lossAt(t, noise) {
      const training = model.training;
      model.eval(); // no caption dropout: the check must be deterministic
      try {
        return trainingLoss(fn, batch.x0, { text, meta: batch.meta, t, noise, numTimesteps: s.numTimesteps }).loss;
      } finally {
        if (training) model.train();
      }
    },
    dispose() {
      optimizer.dispose();
      ema.dispose();
    },
  };
}

// ---- child jobs ---------------------------------------------------------------------------------

type Job =
  | { kind: 'prepare'; model: string; dir: string }
  | { kind: 'time'; model: string; dir: string; backend: string; threads: number; timing: TimingOptions; writeOutput: boolean };

export interface StepMeasurement extends Measurement {
  /** Loss of the first step (warm-up), and of the fixed-t check on the initial weights (batch mean). */
  first_loss: number;
  check_loss: number;
}

async function start(backend: string, threads: number): Promise<void> {
  const started = await useBackend(backend, threads);
  if (!started.ok) throw new Error(`backend ${backend}: ${started.reason}`);
}

/** Latents, captions (validTokens real, the rest padding), and the check's timesteps and noise (seeded). */
function makeInputs(spec: TrainSpec): Map<string, tf.Tensor> {
  const c = parseSTDiT3Config(spec.config);
  const b = spec.latent[0];
  const L = c.model_max_length;
  const mask = new Int32Array(b * L);
  for (let i = 0; i < b; i++) mask.fill(1, i * L, i * L + Math.min(spec.validTokens, L));
  return new Map<string, tf.Tensor>([
    ['x', tf.randomNormal(spec.latent, 0, 1, 'float32', 1)],
    ['y', tf.randomNormal([b, 1, L, c.caption_channels], 0, 1, 'float32', 2)],
    ['mask', tf.tensor2d(mask, [b, L], 'int32')],
    ['check_t', tf.tensor1d(Array.from({ length: b }, (_, i) => CHECK_T[i % CHECK_T.length]!), 'float32')],
    ['check_noise', tf.randomNormal(spec.latent, 0, 1, 'float32', 3)],
  ]);
}

export async function childJob(job: Job): Promise<unknown> {
  if (job.kind === 'prepare') {
    // Weights and inputs are made once, on the pure-JS backend, and shared by every backend and torch.
    await start('cpu', 1);
    const spec = MODELS[job.model]!;
    return { parameters: writeStditCase(job.dir, spec.config, makeInputs(spec)).parameterCount({ trainableOnly: true }) };
  }
  await start(job.backend, job.threads);
  const spec = MODELS[job.model]!;
  const model = loadStditCase(job.dir, spec.config);
  const t = readTensors(join(job.dir, 'inputs.safetensors'));
  const stepper = createTrainStep(model, { x0: t.get('x')!, y: t.get('y')!, mask: t.get('mask')!, meta: metaOf(spec.latent) });
  const check = stepper.lossAt(Array.from(t.get('check_t')!.dataSync()), t.get('check_noise')!);
  const check_loss = tf.tidy(() => check.mean().dataSync()[0]!);
  if (job.writeOutput) writeTensors(join(job.dir, 'check.ours.safetensors'), new Map([['out', check]]));
  check.dispose();
  let first_loss = NaN;
  const m = measure(
    () => {
      const r = stepper.step();
      if (Number.isNaN(first_loss)) first_loss = r.loss;
      return [];
    },
    job.timing,
  );
  const result: StepMeasurement = { ...m, first_loss, check_loss };
  return result;
}

// ---- the suite ----------------------------------------------------------------------------------

/** A row of this suite: the model-suite row plus the batch and the throughput. */
export interface TrainRow extends CaseRow {
  batch: number;
  /** batch / step time. */
  samples_per_s: number | null;
}

const caseName = (model: string) => `${model}.step`;

export async function run(o: SuiteOptions): Promise<TrainRow[]> {
  const all = Object.keys(MODELS).map(caseName);
  const unknown = o.ops.filter((n) => !all.includes(n));
  if (unknown.length) throw new Error(`unknown case(s) ${unknown.join(', ')}; expected some of ${all.join(', ')}`);
  const want = (n: string) => !o.ops.length || o.ops.includes(n);

  const rows: CaseRow[] = [];
  const refCases: ReferenceCase[] = [];
  const { dir, cleanup } = scratchDir(SUITE);
  try {
    for (const [model, spec] of Object.entries(MODELS)) {
      const name = caseName(model);
      if (!want(name)) continue;
      const sub = join(dir, model);
      const prep = runIsolated<{ parameters: number }>(SUITE, { kind: 'prepare', model, dir: sub } satisfies Job);
      o.log(`${model}: ${prep.parameters.toLocaleString('en-US')} trainable parameters, batch latent [${spec.latent}], ${spec.validTokens} valid caption tokens`);
      let wrote = false;
      for (const backend of o.backends) {
        if (backend === 'cpu' && !spec.cpu) {
          o.log(`skipping ${name} on cpu (pure-JS cpu would take minutes; run with --backends native)`);
          continue;
        }
        const threads = backend === 'cpu' ? 1 : o.threads;
        try {
          const m = runIsolated<StepMeasurement>(SUITE, {
            kind: 'time', model, dir: sub, backend, threads, writeOutput: !wrote,
            timing: backend === 'cpu' ? SLOW_TIMING : TIMING,
          } satisfies Job);
          wrote = true;
          rows.push(measuredRow(SUITE, name, backend, threads, m, `loss ${m.first_loss.toFixed(4)}; fixed-t loss ${m.check_loss.toFixed(5)}`));
          o.log(`${name} ${backend}: ${m.ms.toFixed(1)} ms/step, peak RSS ${m.peak_rss_mb.toFixed(0)} MiB (${m.rss_before_mb.toFixed(0)} at start), first loss ${m.first_loss.toFixed(4)}`);
        } catch (err) {
          o.log(`skipping ${name} on ${backend}: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
      refCases.push(referenceCase(name, spec, sub, wrote));
    }
    if (o.torch) rows.push(...referenceRows(SUITE, refCases, o.threads, { warmup: 1, minReps: 3, maxReps: 20, budgetMs: 5000 }, o.log));
  } finally {
    cleanup();
  }
  const order = new Map(all.map((n, i) => [n, i]));
  return withCaseTorchRatios(rows)
    .sort((a, b) => order.get(a.case)! - order.get(b.case)!)
    .map((r) => ({ ...r, batch: BATCH, samples_per_s: r.ms === null ? null : (BATCH * 1000) / r.ms }));
}

/** The reference's step (python/train_step.py) on the same weights, batch and settings. */
function referenceCase(name: string, spec: TrainSpec, dir: string, haveOurs: boolean): ReferenceCase {
  const ours = join(dir, 'check.ours.safetensors');
  const s = STEP_SETTINGS;
  const settings = { lr: s.lr, betas: s.betas, eps: s.eps, weight_decay: s.weightDecay, grad_clip: s.gradClip, ema_decay: s.emaDecay, num_timesteps: s.numTimesteps };
  return {
    name,
    setup: [
      'import json',
      'import train_step as TS',
      'step, check = TS.reference_step(',
      `    json.loads(${py(parseSTDiT3Config(spec.config))}),`,
      `    ${py(join(dir, 'weights.safetensors'))},`,
      `    ${py(join(dir, 'inputs.safetensors'))},`,
      `    json.loads(${py(metaOf(spec.latent))}),`,
      `    ${haveOurs && existsSync(ours) ? py(ours) : 'None'},`,
      `    **json.loads(${py(settings)}),`,
      ')',
    ].join('\n'),
  };
}

export function formatRows(rows: TrainRow[]): string {
  const head = ['case', 'backend', 'threads', 'batch', 'ms/step', 'samples/s', 'peak RSS MiB', 'vs pytorch', 'note'];
  const body = rows.map((r) => [
    r.case,
    r.backend,
    String(r.threads),
    String(r.batch),
    r.ms === null ? '-' : r.ms >= 100 ? r.ms.toFixed(0) : r.ms.toFixed(2),
    r.samples_per_s === null ? '-' : r.samples_per_s >= 10 ? r.samples_per_s.toFixed(1) : r.samples_per_s.toFixed(3),
    r.peak_rss_mb === null ? '-' : r.peak_rss_mb.toFixed(0),
    r.ratio_to_torch === null ? '-' : `${r.ratio_to_torch.toFixed(2)}x`,
    r.note ?? '',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const left = new Set([0, 1, 8]);
  const line = (cells: string[]) => cells.map((c, i) => (left.has(i) ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}
