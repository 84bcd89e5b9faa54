// OpenSoraPipeline: text (or image/video) to video in one call, as a diffusers user works. load()
// takes local paths (the bundled demo model by default), generate() takes the reference's inference
// options in camelCase with the reference's defaults (the same settings schema the CLI reads), and
// returns uint8 frames with what the run did (prompt stages, sizes, warnings, memory per phase).
import { writePng, writeVideo } from '@opensora-ts/data';
import type { CondType } from '@opensora-ts/flow';
import { initRuntime, type RuntimeDescription } from '@opensora-ts/kernels';
import type { RefineOptions } from '@opensora-ts/conditioning';
import { mediaType } from '@opensora-ts/data';
import { generate as generateVideo, sampleJob } from './generate.js';
import { PhaseMeter, type PhaseMemory } from './memory.js';
import { loadModels, type ModelDefaults, type ModelSources, type Models, type Offload } from './models.js';
import { reportPrompt, type PromptTokenReport } from './prompt-report.js';
import { parsePromptLine, preparePromptText } from './prompts.js';
import { parseSettings, type SampleSettingsInput } from './settings.js';
import { resolveImageSize } from './size.js';

export interface PipelineLoadOptions extends ModelSources {
  /** Backend and threads for the tensor runtime (default: the first that loads, OPENSORA_BACKEND wins). */
  runtime?: Parameters<typeof initRuntime>[0];
}

/** Progress of one generation: reference encoding, denoising steps (all loops), VAE decode chunks. */
export interface GenerateProgress {
  phase: 'encode' | 'denoise' | 'decode';
  done: number;
  total: number;
}

export interface GenerateOptions {
  /** The prompt; "|0|a red circle|1|a blue square" switches text per loop; a JSON suffix {"reference_path", "mask_strategy"} is read as the CLI reads it. */
  prompt: string | PreparedPrompt;
  /** Text for the unconditional branch (default: the null caption). */
  negativePrompt?: string;
  /** Frames (1 = an image); the model's default when unset (official: 113). */
  numFrames?: number;
  /** Size in pixels; or `resolution` ('360p', '720p', ...) with `aspectRatio` ('9:16', H:W). The model's size when unset. */
  height?: number;
  width?: number;
  resolution?: string;
  aspectRatio?: string;
  fps?: number;
  /** Sampling steps (official default 30) and guidance (7.5); the demo model has its own. */
  steps?: number;
  cfgScale?: number;
  /** Image guidance for image/video conditioning (5.0). */
  imageCfgScale?: number;
  /** Seed of the initial noise and every later draw (1024); 0 to 2^32-1. */
  seed?: number;
  /** A reference image (i2v_head by default) or video (v2v_head); both may name several files. */
  image?: string | string[];
  video?: string | string[];
  condType?: CondType;
  maskStrategy?: string;
  /** Clips: each conditioned on the last `conditionFrameLength` latent frames of the one before (1, 5). */
  loops?: number;
  conditionFrameLength?: number;
  conditionFrameEdit?: number;
  /** Score phrases appended to the prompt (aesthetic score, motion strength, camera motion). */
  aes?: number | string;
  flow?: number | string;
  cameraMotion?: string;
  /** Rewrite the prompt with an OpenAI-compatible endpoint first (not reproducible). */
  refine?: RefineOptions;
  useOscillationGuidance?: boolean;
  useFlawFix?: boolean;
  /** Default: the model's (on for official weights, off for the demo model). */
  useTimestepTransform?: boolean;
  useSdedit?: boolean;
  scaleImageWeight?: boolean;
  /** Called once the settings are resolved, before any model runs. */
  onStart?: (job: { steps: number; cfgScale: number; seed: number; condType: CondType | null }) => void;
  onProgress?: (p: GenerateProgress) => void;
  /** Each warning as it happens (they are also in metadata.warnings). */
  onWarning?: (message: string) => void;
  onLog?: (line: string) => void;
  /** Stops between steps, chunks and phases: the promise rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Index of the prompt in messages ("prompt 3: ..."; default 0). */
  index?: number;
  /** How messages name the size and the frame count (default 'height x width' and 'numFrames'; the CLI names its flags). */
  messageNames?: { size: string; frames: string };
}

/** A prompt after refinement, score phrases and cleaning, with what the text encoder will make of it. */
export interface PreparedPrompt {
  given: string;
  referencePaths: string[];
  maskStrategy: string;
  /** After refinement (loop segments merged back), before scores and cleaning. */
  refined: string;
  /** What the text encoder receives, with loop segments. */
  final: string;
  perLoop: string[];
  loops: number;
  emptyAfterCleaning: boolean;
  tokens: PromptTokenReport | null;
  unknownWords: string[] | null;
  warnings: string[];
}

export interface SampleMetadata {
  prompt: Omit<PreparedPrompt, 'warnings' | 'referencePaths' | 'maskStrategy' | 'loops'> & { negative: string | null };
  seed: number;
  steps: number;
  cfgScale: number;
  imageCfgScale: number;
  useTimestepTransform: boolean;
  condType: CondType | null;
  maskStrategy: string;
  loops: number;
  height: number;
  width: number;
  fps: number;
  numFrames: number;
  numFramesAsked: number;
  latentShape: number[];
  mergedLatentFrames: number;
  references: { path: string; height: number; width: number; resized: boolean }[];
  /** Every warning of this sample: size, prompt, references. */
  warnings: string[];
  memory: { offload: Offload; phases: PhaseMemory[] };
  seconds: number;
}

export interface WriteOptions {
  /** Replace an existing file (default true). */
  overwrite?: boolean;
}

/** One generated video: uint8 RGB frames T x H x W x 3 and what the run did. */
export class GeneratedSample {
  constructor(
    readonly frames: Uint8Array,
    readonly metadata: SampleMetadata,
  ) {}

  get numFrames(): number {
    return this.metadata.numFrames;
  }

  get height(): number {
    return this.metadata.height;
  }

  get width(): number {
    return this.metadata.width;
  }

  get fps(): number {
    return this.metadata.fps;
  }

  /** H.264 mp4 (yuv420p) through ffmpeg (FFMPEG overrides the bundled one), written atomically. */
  async writeMp4(path: string, o: WriteOptions & { fps?: number; crf?: number } = {}): Promise<void> {
    await writeVideo(path, this.frames, this.numFrames, this.height, this.width, { fps: o.fps ?? this.fps, crf: o.crf ?? 18, overwrite: o.overwrite ?? true });
  }

  /** One frame (default the first) as PNG. */
  async writePng(path: string, o: WriteOptions & { frame?: number } = {}): Promise<void> {
    const n = this.height * this.width * 3;
    const f = o.frame ?? 0;
    if (!Number.isInteger(f) || f < 0 || f >= this.numFrames) throw new RangeError(`writePng ${path}: frame ${f} is not one of the video's ${this.numFrames} frames (0 to ${this.numFrames - 1}).`);
    await writePng(path, this.frames.subarray(f * n, (f + 1) * n), this.height, this.width, { overwrite: o.overwrite ?? true });
  }
}

const LIBRARY_NAMES = { size: 'height x width', frames: 'numFrames' };

function referenceList(v: string | string[] | undefined): string[] {
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : v.split(';')).map((p) => p.trim()).filter(Boolean);
}

export class OpenSoraPipeline {
  private constructor(
    /** The models, each loaded on first use (offload 'model': one at a time). */
    readonly models: Models,
    readonly runtime: RuntimeDescription,
    /** Loading time and memory (offload 'none': every model; 'model': none are loaded yet). */
    readonly loadMemory: PhaseMemory,
  ) {}

  /**
   * Loads the models from local paths: nothing (or weights 'demo') = the bundled demo model; `weights`
   * = a folder in the official layout (vae/, stdit/, t5/) or a demo-model folder; or `dit`, `vae`
   * and `textEncoder` apart. Nothing is downloaded.
   */
  static async load(o: PipelineLoadOptions = {}): Promise<OpenSoraPipeline> {
    const { runtime: runtimeOptions, ...sources } = o;
    const runtime = await initRuntime(runtimeOptions);
    let models: Models | null = null;
    const meter = new PhaseMeter('load', () => models?.resident() ?? []);
    models = loadModels(sources);
    return new OpenSoraPipeline(models, runtime, meter.end());
  }

  get offload(): Offload {
    return this.models.offload;
  }

  /** Size, length, steps and guidance the models are meant to be sampled with. */
  get defaults(): ModelDefaults {
    return this.models.defaults;
  }

  /** 'demo' or 'weights', the demo model's status, the files that decide the output, and the configs as used. */
  get info(): { source: 'demo' | 'weights'; demoStatus: string | null; files: { role: string; path: string }[]; configs: { vae: unknown; stdit: unknown } } {
    return { source: this.models.source, demoStatus: this.models.demoManifest?.status ?? null, files: this.models.files, configs: this.models.configs };
  }

  /** Warnings about the models themselves: an untrained demo placeholder, a demo text encoder that changed since training. */
  async modelWarnings(): Promise<string[]> {
    const out: string[] = [];
    if (this.models.demoManifest?.status === 'untrained-placeholder') {
      out.push('the bundled demo model is an UNTRAINED PLACEHOLDER (random weights): the pipeline runs, but the video will not follow the prompt. See packages/demo-model/README.md.');
    }
    const drift = await this.models.checkText?.();
    if (drift) out.push(drift);
    return out;
  }

  /**
   * The video size of a run: explicit height/width, a resolution name with an aspect ratio, or the
   * model's; checked against the VAE (whole latent cells), with a warning when the VAE gives back
   * another frame count than asked (18 -> 17). `names` are how messages name the size and length.
   */
  videoSize(
    o: { height?: number; width?: number; resolution?: string | null; aspectRatio?: string | null; numFrames?: number } = {},
    names: { size: string; frames: string } = LIBRARY_NAMES,
  ): { height: number; width: number; numFrames: number; framesOut: number; latent: [number, number, number]; warning: string | null } {
    const d = this.defaults;
    if ((o.height === undefined) !== (o.width === undefined)) throw new Error(`height and width go together; got ${o.height === undefined ? `width ${o.width}` : `height ${o.height}`} alone.`);
    const [height, width] = o.height !== undefined && o.width !== undefined ? [o.height, o.width] : resolveImageSize(o.resolution ?? null, o.aspectRatio ?? null, [d.height, d.width]);
    const numFrames = o.numFrames ?? d.numFrames;
    const size = this.models.checkSize({ numFrames, height, width }, names);
    let warning: string | null = null;
    if (size.framesOut !== numFrames) {
      const near = size.nearest?.length ? `; pass ${names.frames} ${size.nearest.join(' or ')} to get exactly what you ask` : '';
      warning = `${names.frames} ${numFrames}: this VAE decodes whole chunks and gives back ${size.framesOut} frames, so the video has ${size.framesOut}${near}.`;
    }
    return { height, width, numFrames, framesOut: size.framesOut, latent: size.latent, warning };
  }

  /** Refines (optionally), adds score phrases and cleans a prompt, and says what the encoder will make of it. */
  async preparePrompt(prompt: string, o: Pick<GenerateOptions, 'loops' | 'aes' | 'flow' | 'cameraMotion' | 'refine' | 'index'> = {}): Promise<PreparedPrompt> {
    this.checkPromptOptions(o);
    const item = parsePromptLine(prompt);
    const loops = o.loops ?? 1;
    const text = await preparePromptText(item.text, loops, { aes: o.aes ?? null, flow: o.flow ?? null, cameraMotion: o.cameraMotion ?? null, ...(o.refine ? { refine: o.refine } : {}) });
    const report = reportPrompt(this.models, o.index ?? 0, item.text, text);
    return { given: item.text, referencePaths: item.referencePaths, maskStrategy: item.maskStrategy, refined: text.refined, final: text.final, perLoop: text.perLoop, loops, emptyAfterCleaning: text.emptyAfterCleaning, ...report };
  }

  /** One video. Defaults are the reference's (seed 1024, 30 steps, cfg 7.5 for official weights; the demo model's own). */
  async generate(o: GenerateOptions): Promise<GeneratedSample> {
    const t0 = performance.now();
    const warnings: string[] = [];
    const warn = (w: string) => {
      warnings.push(w);
      o.onWarning?.(w);
    };
    const names = o.messageNames ?? LIBRARY_NAMES;
    const size = this.videoSize(o, names);
    if (size.warning) warn(size.warning);
    const loops = o.loops ?? 1;
    let prompt: PreparedPrompt;
    if (typeof o.prompt === 'string') {
      prompt = await this.preparePrompt(o.prompt, { ...o, loops });
      for (const w of prompt.warnings) warn(w);
    } else {
      prompt = o.prompt;
      warnings.push(...prompt.warnings); // shown when it was prepared
      if (prompt.loops !== loops) throw new Error(`generate: the prepared prompt was made for ${prompt.loops} loop(s), but loops is ${loops}; prepare it with the same loops.`);
    }
    const refs = [...referenceList(o.image), ...referenceList(o.video)];
    const referencePaths = refs.length ? refs : prompt.referencePaths;
    const first = referencePaths[0];
    const condType = o.condType ?? (first && !(o.maskStrategy ?? prompt.maskStrategy) ? (mediaType(first) === 'video' ? 'v2v_head' : 'i2v_head') : null);
    const input: SampleSettingsInput = {
      ...(o.negativePrompt !== undefined ? { negative_prompt: o.negativePrompt } : {}),
      ...(o.steps !== undefined ? { num_sampling_steps: o.steps } : {}),
      ...(o.cfgScale !== undefined ? { cfg_scale: o.cfgScale } : {}),
      ...(o.imageCfgScale !== undefined ? { image_cfg_scale: o.imageCfgScale } : {}),
      ...(o.seed !== undefined ? { seed: o.seed } : {}),
      loop: loops,
      ...(o.conditionFrameLength !== undefined ? { condition_frame_length: o.conditionFrameLength } : {}),
      ...(o.conditionFrameEdit !== undefined ? { condition_frame_edit: o.conditionFrameEdit } : {}),
      ...(o.useOscillationGuidance !== undefined ? { use_oscillation_guidance: o.useOscillationGuidance } : {}),
      ...(o.useFlawFix !== undefined ? { use_flaw_fix: o.useFlawFix } : {}),
      ...(o.useTimestepTransform !== undefined ? { use_timestep_transform: o.useTimestepTransform } : {}),
      ...(o.useSdedit !== undefined ? { use_sdedit: o.useSdedit } : {}),
      ...(o.scaleImageWeight !== undefined ? { scale_image_weight: o.scaleImageWeight } : {}),
    };
    const s = parseSettings(input, 'generate options');
    const fps = o.fps ?? this.defaults.fps;
    const item = { text: prompt.given, referencePaths, maskStrategy: o.maskStrategy ?? prompt.maskStrategy };
    const job = sampleJob(s, this.defaults, { item, perLoop: prompt.perLoop, height: size.height, width: size.width, numFrames: size.numFrames, fps, seed: s.seed, condType });
    o.onStart?.({ steps: job.steps, cfgScale: job.cfgScale, seed: job.seed, condType });
    const progress = o.onProgress;
    const video = await generateVideo(this.models, job, {
      ...(progress
        ? {
            onStep: (done: number, total: number) => progress({ phase: 'denoise', done, total }),
            onDecodeChunk: (done: number, total: number) => progress({ phase: 'decode', done, total }),
            onEncodeChunk: (done: number, total: number) => progress({ phase: 'encode', done, total }),
          }
        : {}),
      ...(o.onLog ? { log: o.onLog } : {}),
      warn,
      ...(o.signal ? { signal: o.signal } : {}),
      names,
    });
    const { warnings: _w, referencePaths: _r, maskStrategy: _m, loops: _l, ...promptMeta } = prompt;
    return new GeneratedSample(video.frames, {
      prompt: { ...promptMeta, negative: job.negativePrompt },
      seed: job.seed,
      steps: job.steps,
      cfgScale: job.cfgScale,
      imageCfgScale: job.imageCfgScale,
      useTimestepTransform: job.useTimestepTransform,
      condType,
      maskStrategy: item.maskStrategy,
      loops,
      height: video.height,
      width: video.width,
      fps,
      numFrames: video.numFrames,
      numFramesAsked: size.numFrames,
      latentShape: video.latentShape,
      mergedLatentFrames: video.mergedLatentFrames,
      references: video.references,
      warnings,
      memory: { offload: this.offload, phases: video.memory },
      seconds: Number(((performance.now() - t0) / 1000).toFixed(2)),
    });
  }

  private checkPromptOptions(o: { loops?: number | undefined }): void {
    if (o.loops !== undefined && !(Number.isInteger(o.loops) && o.loops >= 1)) throw new Error(`loops ${o.loops}: expected a whole number of clips, 1 or more.`);
  }

  /** Frees every model and its tensors. */
  dispose(): void {
    this.models.dispose();
  }
}
