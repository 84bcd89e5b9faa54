// A sampling run: settings -> prompts -> models -> one generated file (+ sidecar) per prompt and
// sample, with progress, warnings, time and peak memory. The CLI and the tests call runSample.
import { resolve } from 'node:path';
import { mediaType } from '@opensora-ts/data';
import { describeRuntime } from '@opensora-ts/kernels';
import { generate, sampleJob } from './generate.js';
import { hashFile, type FileHash } from './hash.js';
import { loadModels, type Models } from './models.js';
import { outputPath, prepareOutputs, sidecarPath, writeJsonAtomic, writeSample } from './output.js';
import { parsePromptLine, preparePromptText, readPromptFile, type PromptItem } from './prompts.js';
import { createProgress, peakRssMiB, type Progress } from './progress.js';
import type { SampleSettings } from './settings.js';
import { checkOutFlags } from './out-flags.js';
import { checkReferences } from './references.js';
import { resolveImageSize } from './size.js';
import { checkVideoSize } from '@opensora-ts/vae';
import type { PromptTokens, RefineOptions } from '@opensora-ts/conditioning';

export interface RunIO {
  log: (line: string) => void;
  warn: (line: string) => void;
  progress?: Progress;
  /** The command line, recorded in the sidecar. */
  argv?: string[];
  /** Replace existing outputs (default false: an existing file is refused before any generation). */
  overwrite?: boolean;
}

export interface SampleOutput {
  path: string;
  sidecar: string;
  numFrames: number;
  height: number;
  width: number;
  seconds: number;
}

export interface RunResult {
  outputs: SampleOutput[];
  seconds: number;
  peakRssMiB: number;
}

/** Prompt lines from --prompt and --prompt-path, in that order. */
export function collectPrompts(s: SampleSettings): PromptItem[] {
  const lines = [...s.prompt, ...(s.prompt_path ? readPromptFile(s.prompt_path) : [])];
  if (lines.length === 0) throw new Error('no prompt: pass --prompt "a red circle moves to the left" or --prompt-path FILE (one prompt per line).');
  return lines.map((l) => {
    const item = parsePromptLine(l);
    if (item.referencePaths.length === 0 && s.reference_path) {
      item.referencePaths = s.reference_path.split(';').map((p) => p.trim()).filter(Boolean);
      item.referenceFromFlag = true;
    }
    return item;
  });
}

function demoVocabularyWarning(models: Models, index: number, text: string): string | null {
  const unknown = models.unknownWords?.(text) ?? [];
  if (unknown.length === 0) return null;
  return `prompt ${index}: the demo model does not know ${unknown.map((w) => `"${w}"`).join(', ')}; those words are spelled letter by letter and carry no meaning. It was trained on shapes world and knows: ${models.knownWords!().join(' ')}. Example: "a red circle moves to the left", "the camera pans right over blue squares".`;
}

/** What the text encoder makes of a prompt's texts: the longest (for truncation) and every unknown word. */
function promptTokens(models: Models, texts: string[]): { longest: PromptTokens; unknown: string[] } | null {
  if (!models.text.promptTokens) return null;
  const reports = [...new Set(texts)].map((t) => models.text.promptTokens!(t));
  const longest = reports.reduce((a, b) => (b.tokens > a.tokens ? b : a));
  return { longest, unknown: [...new Set(reports.flatMap((r) => r.unknown))] };
}

/** The warnings of one prompt: nothing the encoder receives may differ from what was asked without a word. */
function promptWarnings(models: Models, index: number, given: string, text: { emptyAfterCleaning: boolean; perLoop: string[] }, tokens: ReturnType<typeof promptTokens>): string[] {
  const out: string[] = [];
  if (text.emptyAfterCleaning) {
    out.push(
      `prompt ${index}: ${JSON.stringify(given)} is empty after the reference's text cleaning (it removes CJK characters, URLs, @handles, file names and most symbols), so the sample follows no description. Write the prompt in English.`,
    );
  }
  if (tokens && tokens.longest.tokens > tokens.longest.kept) {
    const t = tokens.longest;
    out.push(`prompt ${index}: ${t.tokens} tokens, but the text encoder keeps ${t.kept} (its max length ${t.maxLength}); the last ${t.tokens - t.kept} tokens are dropped. Shorten the prompt.`);
  }
  // The demo model has its own, longer message (with the words it knows).
  if (tokens && tokens.unknown.length && !models.unknownWords) {
    out.push(`prompt ${index}: the text encoder has no tokens for ${tokens.unknown.map((w) => `"${w}"`).join(', ')}; they become its unknown token and carry no meaning.`);
  }
  return out;
}

export async function runSample(s: SampleSettings, io: RunIO): Promise<RunResult> {
  const started = performance.now();
  const progress = io.progress ?? createProgress();
  const items = collectPrompts(s);
  checkOutFlags(s);
  checkReferences(items);
  const models = loadModels({ weights: s.weights, textCache: s.text_cache, textEncoder: s.text_encoder });
  try {
    if (models.demoManifest?.status === 'untrained-placeholder') {
      io.warn('the bundled demo model is an UNTRAINED PLACEHOLDER (random weights): the pipeline runs, but the video will not follow the prompt. See packages/demo-model/README.md.');
    }
    const drift = await models.checkText?.();
    if (drift) io.warn(drift);
    const d = models.defaults;
    const [height, width] = resolveImageSize(s.resolution, s.aspect_ratio, [d.height, d.width]);
    const numFrames = s.num_frames ?? d.numFrames;
    // The VAE package's check (train uses the same): whole latent cells, at least one latent frame.
    // The DiT pads latents to its patch size (360p works).
    const size = checkVideoSize(models.codec, { numFrames, height, width }, { size: '--resolution', frames: '--num-frames' });
    const runWarnings: string[] = [];
    if (size.framesOut !== numFrames) {
      const near = size.nearest?.length ? `; pass --num-frames ${size.nearest.join(' or ')} to get exactly what you ask` : '';
      runWarnings.push(`--num-frames ${numFrames}: this VAE decodes whole chunks and gives back ${size.framesOut} frames, so the video has ${size.framesOut}${near}.`);
    }
    for (const w of runWarnings) io.warn(w);
    const fps = s.fps ?? d.fps;
    const saveFps = Math.max(1, Math.floor(fps / s.frame_interval));
    const image = numFrames === 1;
    const overwrite = io.overwrite ?? false;
    const pathOf = (index: number, k: number) => outputPath({ out: s.out, saveDir: s.save_dir, index, count: items.length, k, samples: s.num_sample, image });
    prepareOutputs(
      items.flatMap((_, index) => Array.from({ length: s.num_sample }, (_, k) => pathOf(index, k))),
      { image, overwrite, out: s.out, log: io.log },
    );

    const hashes: FileHash[] = [];
    for (const f of models.files) hashes.push({ role: f.role, ...(await hashFile(f.path)), path: resolve(f.path) } as FileHash);
    const runtime = await describeRuntime();
    const outputs: SampleOutput[] = [];

    for (const [index, item] of items.entries()) {
      const refine: RefineOptions | undefined = s.llm_refine
        ? {
            url: s.refine_url ?? undefined,
            model: s.refine_model ?? undefined,
            timeoutMs: s.refine_timeout * 1000,
            onWaiting: (ms) => io.log(`prompt ${index}: waiting for the refinement reply (${(ms / 1000).toFixed(1)} s of ${s.refine_timeout} s)`),
            onWarning: (m, info) => io.warn(info.timedOut ? `prompt ${index}: ${m} Give it longer with --refine-timeout SECONDS.` : `prompt ${index}: ${m}`),
          }
        : undefined;
      const text = await preparePromptText(item.text, s.loop, { aes: s.aes, flow: s.flow, cameraMotion: s.camera_motion, refine });
      const warning = demoVocabularyWarning(models, index, [...new Set(text.perLoop)].join(' '));
      if (warning) io.warn(warning);
      const tokens = promptTokens(models, text.perLoop);
      const warnings = promptWarnings(models, index, item.text, text, tokens);
      for (const w of warnings) io.warn(w);
      const firstRef = item.referencePaths[0];
      const condType = s.cond_type ?? (firstRef && !item.maskStrategy ? (mediaType(firstRef) === 'video' ? 'v2v_head' : 'i2v_head') : null);
      for (let k = 0; k < s.num_sample; k++) {
        const t0 = performance.now();
        const path = pathOf(index, k);
        const job = sampleJob(s, models.defaults, { item, perLoop: text.perLoop, height, width, numFrames, fps, seed: s.seed + k, condType });
        io.log(`sample ${index}${s.num_sample > 1 ? `-${k}` : ''}: "${text.final}" ${height}x${width}, ${numFrames} frame(s)${s.loop > 1 ? ` x ${s.loop} loops` : ''}, ${job.steps} steps, cfg ${job.cfgScale}, seed ${job.seed}${condType ? `, ${condType} from ${item.referencePaths.join(', ')}` : ''}`);
        const sampleWarnings: string[] = [];
        const video = await generate(models, job, {
          onStep: (done, total) => progress.update('denoise', done, total),
          onDecodeChunk: (done, total) => progress.update('decode', done, total),
          onEncodeChunk: (done, total) => progress.update('encode', done, total),
          log: (l) => {
            progress.stop();
            io.log(l);
          },
          warn: (l) => {
            progress.stop();
            io.warn(l);
            sampleWarnings.push(l);
          },
        });
        progress.stop();
        await writeSample(path, video, saveFps, s.crf, { overwrite, out: s.out });
        const output = await hashFile(path);
        const seconds = (performance.now() - t0) / 1000;
        const settings: SampleSettings = {
          ...s,
          // The sidecar's settings reproduce this one sample: the refined text, its seed, one sample, this file.
          prompt: [item.maskStrategy || item.referencePaths.length ? `${text.refined} ${JSON.stringify({ ...(item.referencePaths.length ? { reference_path: item.referencePaths.map((p) => resolve(p)).join(';') } : {}), ...(item.maskStrategy ? { mask_strategy: item.maskStrategy } : {}) })}` : text.refined],
          prompt_path: null,
          llm_refine: false,
          reference_path: null,
          cond_type: condType,
          resolution: `${height}x${width}`,
          aspect_ratio: null,
          num_frames: numFrames,
          fps,
          num_sampling_steps: job.steps,
          cfg_scale: job.cfgScale,
          use_timestep_transform: job.useTimestepTransform,
          seed: job.seed,
          num_sample: 1,
          weights: s.weights ? resolve(s.weights) : null,
          out: resolve(path),
        };
        const sidecar = sidecarPath(path);
        writeJsonAtomic(sidecar, {
          kind: 'opensora-sample',
          version: 1,
          created: new Date().toISOString(),
          command: io.argv ?? null,
          reproduce: `opensora-sample --config ${sidecar} --out ${path.replace(/(\.[^./]+)$/, '.repro$1')}`,
          settings,
          prompt: {
            given: item.text,
            refined: text.refined,
            final: text.final,
            per_loop: text.perLoop,
            negative: s.negative_prompt,
            empty_after_cleaning: text.emptyAfterCleaning,
            // null where the encoder cannot tell (cached embeddings).
            tokens: tokens ? { count: tokens.longest.tokens, kept: tokens.longest.kept, max_length: tokens.longest.maxLength } : null,
            unknown_words: tokens ? tokens.unknown : null,
          },
          warnings: [...runWarnings, ...(warning ? [warning] : []), ...warnings, ...sampleWarnings],
          references: video.references,
          video: { height, width, num_frames: video.numFrames, num_frames_asked: numFrames, save_fps: image ? null : saveFps, latent_shape: video.latentShape, merged_latent_frames: video.mergedLatentFrames },
          models: { source: models.source, demo_status: models.demoManifest?.status ?? null, configs: models.configs, files: hashes },
          runtime: { ...runtime, node: process.version, note: 'bit-for-bit reproduction needs the same backend and thread count' },
          output: { path: resolve(path), bytes: output.bytes, sha256: output.sha256 },
          timing: { seconds: Number(seconds.toFixed(2)), peak_rss_mib: Number(peakRssMiB().toFixed(0)) },
        }, { overwrite, out: s.out });
        outputs.push({ path, sidecar, numFrames: video.numFrames, height, width, seconds });
        io.log(`wrote ${path} (${video.numFrames} frame(s), ${height}x${width}) and ${sidecar} in ${seconds.toFixed(1)} s`);
      }
    }
    const total = (performance.now() - started) / 1000;
    const peak = peakRssMiB();
    io.log(`done: ${outputs.length} file(s) in ${total.toFixed(1)} s, peak RSS ${peak.toFixed(0)} MiB`);
    return { outputs, seconds: total, peakRssMiB: peak };
  } finally {
    models.dispose();
  }
}
