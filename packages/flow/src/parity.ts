// Parity runners for the rectified-flow fixture kinds (shared/fixtures/opensora13/README.md):
// `rflow_schedule`, `rflow_loss`, and `runRflowSampleCase` for `rflow_sample` given a model.
import { tf, type ParityCase, type ParityOutput, type ParityRunner, type ParityTensor, type Tensor } from '@opensora-ts/kernels';
import type { HostTensor } from '@opensora-ts/kernels';
import { trainingLoss } from './loss.js';
import { velocityOf, type AsyncModelFn, type ModelFn, type TextConditioning } from './model.js';
import { RFlowSampler, type RFlowSamplerConfig } from './sampler.js';
import type { DropCondition } from './train-conditioning.js';
import { samplingTimesteps, evalLossTimesteps } from './sampling-timesteps.js';
import { timestepTransform, type TimestepTransformOptions } from './timestep-transform.js';

function input(c: ParityCase, name: string) {
  const t = c.inputs.get(name);
  if (!t) throw new Error(`${c.dir}/inputs.safetensors: missing tensor '${name}' (kind ${c.json.kind} needs it).`);
  return t;
}

const vec = (xs: readonly number[]): ParityTensor => ({ shape: [xs.length], data: Float32Array.from(xs) });

function scheduleOptions(config: Record<string, unknown>): TimestepTransformOptions {
  const num = (k: string) => (typeof config[k] === 'number' ? (config[k] as number) : undefined);
  return {
    numTimesteps: num('num_timesteps'),
    scale: num('transform_scale'),
    scaleTemporal: typeof config.scale_temporal === 'boolean' ? config.scale_temporal : undefined,
    baseResolution: num('base_resolution'),
    baseNumFrames: num('base_num_frames'),
    uniformOverThreshold: (config.uniform_over_threshold as number | null | undefined) ?? null,
  };
}

/** kind rflow_schedule: the transform table (fp32 and bf16 metadata), sampling schedules, eval-loss timesteps. */
export const runRflowScheduleCase: ParityRunner = async (c) => {
  const config = (c.json.config ?? {}) as Record<string, unknown>;
  const call = (c.json.call ?? {}) as {
    schedules?: { name: string; height: number; width: number; num_frames: number; steps: number }[];
    eval_loss?: { num_eval_timesteps?: number; dtype?: string };
  };
  const opts = scheduleOptions(config);
  const tensors = new Map<string, ParityTensor>();
  if (c.inputs.has('table.t')) {
    const t = Array.from(input(c, 'table.t').data);
    const h = Array.from(input(c, 'table.height').data);
    const w = Array.from(input(c, 'table.width').data);
    const nf = Array.from(input(c, 'table.num_frames').data);
    for (const [suffix, metaDtype] of [['', 'float32'], ['_bf16meta', 'bfloat16']] as const) {
      const rows = t.map((ti, i) => timestepTransform([ti], { height: h[i]!, width: w[i]!, numFrames: nf[i]! }, { ...opts, metaDtype }));
      tensors.set(`table.t_transformed${suffix}`, vec(rows.map((r) => r.t[0]!)));
      tensors.set(`table.ratio${suffix}`, vec(rows.map((r) => r.ratio[0]!)));
    }
  }
  for (const s of call.schedules ?? []) {
    const meta = { height: s.height, width: s.width, numFrames: s.num_frames };
    tensors.set(`schedule.${s.name}`, vec(samplingTimesteps(s.steps, meta, { ...opts, metaDtype: 'float32' })));
    tensors.set(`schedule.${s.name}_bf16meta`, vec(samplingTimesteps(s.steps, meta, { ...opts, metaDtype: 'bfloat16' })));
    tensors.set(`schedule.${s.name}_untransformed`, vec(samplingTimesteps(s.steps, meta, { ...opts, useTimestepTransform: false })));
  }
  if (call.eval_loss) {
    const n = call.eval_loss.num_eval_timesteps ?? 10;
    tensors.set('eval_loss.timesteps', vec(evalLossTimesteps(n, { numTimesteps: opts.numTimesteps })));
    tensors.set('eval_loss.timesteps_bf16', vec(evalLossTimesteps(n, { numTimesteps: opts.numTimesteps, dtype: 'bfloat16' })));
  }
  return { tensors } satisfies ParityOutput;
};


function toTensor(h: HostTensor): Tensor {
  return tf.tensor(h.data, h.shape, h.dtype);
}

async function hostOf(t: Tensor): Promise<ParityTensor> {
  return { shape: [...t.shape], data: (await t.data()) as Float32Array };
}

interface LossRun {
  name: string;
  scheduler?: { num_timesteps?: number; drop_condition?: Partial<Record<DropCondition, number>>; x_cond_weight?: number };
  frame_mask?: boolean;
  mask_index?: number[];
}

/**
 * kind rflow_loss: add_noise and training_losses per run of `call.runs`, with a stand-in model
 * that returns the input `model_output`. Every run emits `<run>.loss`, `<run>.x_t` and, when
 * frames are conditioned, `<run>.cond`, `<run>.cond_mask`, `<run>.y_null`.
 */
export const runRflowLossCase: ParityRunner = async (c) => {
  const runs = ((c.json.call ?? {}) as { runs?: LossRun[] }).runs;
  if (!runs?.length) throw new Error(`${c.dir}/case.json: call.runs is empty; kind rflow_loss needs at least one run.`);
  const tensors = new Map<string, ParityTensor>();
  const x0 = toTensor(input(c, 'x0'));
  const noise = toTensor(input(c, 'noise'));
  const modelOutput = toTensor(input(c, 'model_output'));
  const y = c.inputs.has('y') ? toTensor(input(c, 'y')) : undefined;
  const textMask = c.inputs.has('text_mask') ? toTensor(input(c, 'text_mask')) : undefined;
  const yEmbedding = c.inputs.has('y_embedding') ? toTensor(input(c, 'y_embedding')) : undefined;
  const frameMask = c.inputs.has('frame_mask') ? toTensor(input(c, 'frame_mask')) : undefined;
  const t = Array.from(input(c, 't').data);
  const standIn: ModelFn = () => modelOutput.clone();
  const [B, , T, H, W] = x0.shape as number[];
  const meta = { height: H! * 8, width: W! * 8, numFrames: (T! - 1) * 4 + 1 };
  try {
    for (const run of runs) {
      if (run.frame_mask && !frameMask) throw new Error(`${c.dir}: run '${run.name}' sets frame_mask but inputs.safetensors has no 'frame_mask'.`);
      const yIn = y ?? tf.zeros([B!, 1, 1, 1]);
      const r = trainingLoss(standIn, x0, {
        text: { y: yIn, mask: textMask, yNull: yEmbedding },
        meta,
        noise,
        t,
        frameMask: run.frame_mask ? frameMask : undefined,
        maskIndex: run.mask_index,
        xCondWeight: run.scheduler?.x_cond_weight,
        dropCondition: run.scheduler?.drop_condition,
        numTimesteps: run.scheduler?.num_timesteps,
        returnIntermediates: true,
      });
      const outs: [string, Tensor | undefined][] = [
        ['loss', r.loss], ['x_t', r.xT], ['cond', r.cond], ['cond_mask', r.condMask], ['y_null', r.yNull],
      ];
      for (const [k, v] of outs) if (v && (k !== 'cond' && k !== 'cond_mask' && k !== 'y_null' || run.mask_index?.length)) tensors.set(`${run.name}.${k}`, await hostOf(v));
      for (const v of [r.loss, r.xT, r.cond, r.condMask, r.y, r.yNull]) v?.dispose();
      if (!y) yIn.dispose();
    }
  } finally {
    for (const v of [x0, noise, modelOutput, y, textMask, yEmbedding, frameMask]) v?.dispose();
  }
  return { tensors };
};

/** The reference's scheduler keys (snake_case) as an RFlowSampler config. */
export function samplerConfigFromReference(s: Record<string, unknown>): RFlowSamplerConfig {
  const n = (k: string) => (typeof s[k] === 'number' ? (s[k] as number) : undefined);
  const b = (k: string) => (typeof s[k] === 'boolean' ? (s[k] as boolean) : undefined);
  return {
    numSamplingSteps: n('num_sampling_steps'),
    numTimesteps: n('num_timesteps'),
    cfgScale: n('cfg_scale'),
    useDiscreteTimesteps: b('use_discrete_timesteps'),
    useTimestepTransform: b('use_timestep_transform'),
    transformScale: n('transform_scale'),
    scaleTemporal: b('scale_temporal'),
    useOscillationGuidance: b('use_oscillation_guidance'),
    useFlawFix: b('use_flaw_fix'),
    scaleImageWeight: b('scale_image_weight'),
    initialImageScale: n('initial_image_scale'),
    forceNum: n('force_num'),
  };
}

/**
 * kind rflow_sample, given the model: RFLOW.sample on the t2v path from the case's z, y, mask and
 * metadata. `text.yNull` is the model's null caption (STDiT3 `y_embedder.y_embedding`, [L, C] or
 * [B, 1, L, C]); `text.y` / `text.mask` default to the case inputs. Produces `z_final`, `timesteps`
 * (t given to the model at each step) and, with call.record_step0_velocity, `velocity_step0` (the
 * first C output channels of the step-0 call, rows [cond, uncond]).
 */
export async function runRflowSampleCase(c: ParityCase, model: AsyncModelFn, text: Partial<TextConditioning> & { yNull: Tensor }): Promise<ParityOutput> {
  const call = (c.json.call ?? {}) as { scheduler?: Record<string, unknown>; record_step0_velocity?: boolean; mask?: number[][] | null };
  const sampler = new RFlowSampler(samplerConfigFromReference(call.scheduler ?? {}));
  const made: Tensor[] = [];
  const mk = (name: string) => {
    const t = toTensor(input(c, name));
    made.push(t);
    return t;
  };
  const first = (name: string) => (c.inputs.has(name) ? input(c, name).data[0] : undefined);
  const z = mk('z');
  const meta = { height: first('height')!, width: first('width')!, numFrames: first('num_frames')!, fps: first('fps'), ar: first('ar') };
  for (const k of ['height', 'width', 'num_frames'] as const) if (!c.inputs.has(k)) throw new Error(`${c.dir}/inputs.safetensors: missing '${k}' (the timestep shift needs it).`);
  const y = text.y ?? mk('y');
  const mask = text.mask ?? (c.inputs.has('mask') ? mk('mask') : undefined);
  const timesteps: number[] = [];
  let velocity0: ParityTensor | undefined;
  const recording: AsyncModelFn = async (x, t, cond) => {
    const out = await model(x, t, cond);
    timesteps.push(t.dataSync()[0]!);
    if (call.record_step0_velocity && !velocity0) {
      const v = velocityOf(out, x.shape[1]!);
      velocity0 = await hostOf(v);
      v.dispose();
    }
    return out;
  };
  try {
    const zFinal = await sampler.sample(recording, {
      text: { y, mask, yNull: text.yNull, negative: text.negative },
      meta,
      z,
      frameMask: call.mask ?? undefined,
    });
    const tensors = new Map<string, ParityTensor>([['z_final', await hostOf(zFinal)], ['timesteps', vec(timesteps)]]);
    zFinal.dispose();
    if (velocity0) tensors.set('velocity_step0', velocity0);
    return { tensors };
  } finally {
    for (const t of made) t.dispose();
  }
}

export const parityRunners: Record<string, ParityRunner> = {
  rflow_schedule: runRflowScheduleCase,
  rflow_loss: runRflowLossCase,
};
