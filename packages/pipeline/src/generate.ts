// One sample from a job + models: reference files -> latents (VAE), prompt text -> embeddings (text
// encoder), noise -> latent (RFlow sampler on the DiT, with I2V/V2V references, mask strategies and
// loops as the 1.3 inference script) -> VAE decode -> uint8 frames. Each of those is a phase with its
// own memory report; with offload 'model' each phase holds only its own model.
import { toUint8 } from '@opensora-ts/data';
import { RFlowSampler, SeededRandom, extendedLatentLength, sampleClips, type AsyncModelFn, type CondType, type TextConditioning } from '@opensora-ts/flow';
import { nullEncoding } from '@opensora-ts/conditioning';
import { NonFiniteError, countNonFinite, describeNonFinite, tf, type Tensor } from '@opensora-ts/kernels';
import { stdit3FlowModelFn } from '@opensora-ts/stdit';
import { PhaseMeter, type PhaseMemory } from './memory.js';
import type { ModelDefaults, Models } from './models.js';
import type { PromptItem } from './prompts.js';
import type { SampleSettings } from './settings.js';
import { encodeReference, readReference, referenceResizeWarning } from './references.js';

/** The reference's fps for one-frame samples (IMG_FPS). */
const IMAGE_FPS = 120;

export interface SampleJob {
  item: PromptItem;
  /** The encoder's text for each clip (loop), already refined, scored and cleaned. */
  perLoop: string[];
  negativePrompt: string | null;
  height: number;
  width: number;
  numFrames: number;
  fps: number;
  steps: number;
  cfgScale: number;
  imageCfgScale: number;
  seed: number;
  loops: number;
  condType: CondType | null;
  conditionFrameLength: number;
  conditionFrameEdit: number;
  useOscillationGuidance: boolean;
  useFlawFix: boolean;
  useTimestepTransform: boolean;
  scaleImageWeight: boolean;
  useSdedit: boolean;
}

/** The job of one sample from the run's settings (model defaults fill what the settings leave null). */
export function sampleJob(
  s: SampleSettings,
  defaults: ModelDefaults,
  o: { item: PromptItem; perLoop: string[]; height: number; width: number; numFrames: number; fps: number; seed: number; condType: CondType | null },
): SampleJob {
  return {
    ...o,
    negativePrompt: s.negative_prompt,
    steps: s.num_sampling_steps ?? defaults.steps,
    cfgScale: s.cfg_scale ?? defaults.cfgScale,
    imageCfgScale: s.image_cfg_scale,
    loops: s.loop,
    conditionFrameLength: s.condition_frame_length,
    conditionFrameEdit: s.condition_frame_edit,
    useOscillationGuidance: s.use_oscillation_guidance,
    useFlawFix: s.use_flaw_fix,
    useTimestepTransform: s.use_timestep_transform ?? defaults.useTimestepTransform,
    scaleImageWeight: s.scale_image_weight,
    useSdedit: s.use_sdedit,
  };
}

export interface GenerateHooks {
  onStep?: (done: number, total: number) => void;
  onDecodeChunk?: (done: number, total: number) => void;
  onEncodeChunk?: (done: number, total: number) => void;
  /** Sees the final (joined) latent before decoding; it is disposed afterwards (clone to keep). */
  onLatent?: (latent: Tensor) => void;
  log?: (line: string) => void;
  /** Something changed from what was asked (a reference resized to the run's size). */
  warn?: (line: string) => void;
  /** Checked between steps, chunks and phases: an aborted generation rejects with the signal's reason and frees its tensors. */
  signal?: AbortSignal;
  /** How sizes are named in messages (default: the CLI's flags). */
  names?: { size: string; frames: string };
}

export interface GeneratedVideo {
  /** uint8 RGB, T x H x W x 3. */
  frames: Uint8Array;
  numFrames: number;
  height: number;
  width: number;
  /** Latent shape of one clip [B, C, T', h, w] and of the joined result. */
  latentShape: number[];
  mergedLatentFrames: number;
  /** Each reference file with its own size, and whether it was resized to the run's. */
  references: { path: string; height: number; width: number; resized: boolean }[];
  /** Each phase's time and peak memory, in order. */
  memory: PhaseMemory[];
}

const CLI_NAMES = { size: '--resolution', frames: '--num-frames' };

/** Latent shape [1, C, T', h, w] of one clip (the VAE package's size check: grid and frame count). */
export function latentShape(models: Models, numFrames: number, height: number, width: number, names = CLI_NAMES): number[] {
  const { latent, zChannels } = models.checkSize({ numFrames, height, width }, names);
  return [1, zChannels, ...latent];
}

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason ?? new Error('generation was aborted');
}

export async function generate(models: Models, job: SampleJob, hooks: GenerateHooks = {}): Promise<GeneratedVideo> {
  checkAborted(hooks.signal);
  const shape = latentShape(models, job.numFrames, job.height, job.width, hooks.names);
  const T = shape[2]!;
  const isImage = job.numFrames === 1;
  const hasRefs = job.item.referencePaths.length > 0;
  if (isImage && (job.loops > 1 || job.condType)) throw new Error('--num-frames 1 makes an image; --loops and --cond-type need a video (num_frames > 1).');
  if (job.condType && !hasRefs) throw new Error(`--cond-type ${job.condType} needs a reference: pass --image or --video (or "reference_path" in the prompt's JSON).`);
  if (job.loops > 1) extendedLatentLength(T, job.loops, job.conditionFrameLength); // validates
  if (job.perLoop.length < job.loops) throw new Error(`generate: ${job.perLoop.length} prompt text(s) for ${job.loops} loops; pass one per loop.`);

  const owned: Tensor[] = [];
  const memory: PhaseMemory[] = [];
  let meter: PhaseMeter | null = null;
  const phase = (name: string) => {
    checkAborted(hooks.signal);
    meter = new PhaseMeter(name, () => models.resident());
  };
  const endPhase = () => {
    memory.push(meter!.end());
    meter = null;
  };
  const sample = () => meter?.sample();
  try {
    // References first (the VAE is already loaded for the size check): latents [C, T', h, w] per file.
    const refs: Tensor[] = [];
    const references: GeneratedVideo['references'] = [];
    if (hasRefs) {
      phase('encode');
      for (const [r, path] of job.item.referencePaths.entries()) {
        hooks.log?.(`reference ${path}: encoding`);
        const clip = await readReference(path, job.height, job.width, job.numFrames);
        owned.push(clip.pixels);
        const resized = referenceResizeWarning(clip, job.height, job.width);
        if (resized) hooks.warn?.(resized);
        references.push({ path, ...clip.source, resized: resized !== null });
        const onChunk = (done: number, total: number) => {
          sample();
          hooks.onEncodeChunk?.(done, total);
        };
        const z = encodeReference(models.codec, clip, job.seed + 2 + r, onChunk, models.demoManifest?.vae_posterior ?? 'sample');
        owned.push(z);
        refs.push(z);
        checkAborted(hooks.signal);
      }
      endPhase();
    }

    // Text: one encoding per distinct loop text.
    phase('text');
    const distinct = [...new Set(job.perLoop)];
    const enc = await models.encode(distinct);
    owned.push(enc.states, enc.mask);
    let negative: TextConditioning['negative'];
    if (job.negativePrompt) {
      const n = await models.encode([job.negativePrompt]);
      owned.push(n.states, n.mask);
      negative = { y: n.states, mask: n.mask };
    }
    endPhase();

    // Denoising on the DiT; the null caption is its y_embedding.
    phase('denoise');
    const stdit = models.stdit;
    const nul = nullEncoding(stdit.yEmbedder.yEmbedding.tensor!, 1, stdit.config.model_max_length);
    owned.push(nul.states, nul.mask);
    const textOf = (i: number): TextConditioning => {
      const k = distinct.indexOf(job.perLoop[i]!);
      const y = tf.slice(enc.states, [k, 0, 0, 0], [1, -1, -1, -1]);
      const mask = tf.slice(enc.mask, [k, 0], [1, -1]);
      owned.push(y, mask);
      return { y, mask, yNull: nul.states, ...(negative ? { negative } : {}) };
    };
    const sampler = new RFlowSampler({
      numSamplingSteps: job.steps,
      cfgScale: job.cfgScale,
      useOscillationGuidance: job.useOscillationGuidance,
      useFlawFix: job.useFlawFix,
      useTimestepTransform: job.useTimestepTransform,
      scaleImageWeight: job.scaleImageWeight,
    });
    const fps = isImage ? IMAGE_FPS : job.fps;
    const model: AsyncModelFn = stdit3FlowModelFn(stdit, { fps });
    const meta = { height: job.height, width: job.width, numFrames: job.numFrames, fps };
    const total = job.steps * job.loops;
    let done = 0;
    const onProgress = () => {
      sample();
      hooks.onStep?.(++done, total);
    };
    const signal = hooks.signal ? { signal: hooks.signal } : {};

    let latent: Tensor;
    if (job.loops === 1 && !job.condType && !job.item.maskStrategy) {
      const z = new SeededRandom(job.seed).normalTensor(shape);
      owned.push(z);
      latent = await sampler.sample(model, { text: textOf(0), meta, z, rng: new SeededRandom(job.seed + 1), onProgress, ...signal });
    } else {
      latent = await sampleClips(sampler, model, {
        loops: job.loops,
        shape,
        textForClip: textOf,
        noiseSeed: job.seed,
        conditionFrameLength: job.conditionFrameLength,
        conditionFrameEdit: job.conditionFrameEdit,
        meta,
        imageCfgScale: job.imageCfgScale,
        useSdedit: job.useSdedit,
        ...(job.condType ? { condType: job.condType, refs: [refs] } : { refs: [refs], maskStrategies: [job.item.maskStrategy] }),
        onProgress,
        ...signal,
      });
    }
    owned.push(latent);
    endPhase();
    hooks.onLatent?.(latent);

    // Decode chunk by chunk, converting each stretch of frames to uint8 at once.
    phase('decode');
    const pieces: Uint8Array[] = [];
    let frames = 0;
    for (const piece of models.codec.decodeFrames(latent as tf.Tensor5D)) {
      const thwc = tf.tidy(() => tf.transpose(tf.squeeze(piece.frames, [0]), [1, 2, 3, 0]));
      piece.frames.dispose();
      const values = (await thwc.data()) as Float32Array;
      const bad = countNonFinite(values);
      if (bad.first >= 0) {
        thwc.dispose();
        const frame = frames + Math.floor(bad.first / (job.height * job.width * 3));
        throw new NonFiniteError(
          `decoding chunk ${piece.chunk + 1} of ${piece.chunks}: frame ${frame} holds ${describeNonFinite(bad)} though the latent was finite; stopped, nothing is written. ` +
            'The VAE decoder gave non-finite values: check the VAE weights, and that the backend computes this model correctly.',
        );
      }
      pieces.push(toUint8(values));
      frames += thwc.shape[0]!;
      thwc.dispose();
      sample();
      hooks.onDecodeChunk?.(piece.chunk + 1, piece.chunks);
      checkAborted(hooks.signal);
    }
    const out = new Uint8Array(frames * job.height * job.width * 3);
    let off = 0;
    for (const p of pieces) {
      out.set(p, off);
      off += p.length;
    }
    endPhase();
    return { frames: out, numFrames: frames, height: job.height, width: job.width, latentShape: shape, mergedLatentFrames: latent.shape[2]!, references, memory };
  } finally {
    tf.dispose(owned);
  }
}
