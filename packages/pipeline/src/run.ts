// A sampling run of the CLI: settings -> prompts -> the pipeline -> one generated file (+ sidecar)
// per prompt and sample, with progress, warnings, time and peak memory (per phase too). The CLI and
// the tests call runSample; the generation itself is OpenSoraPipeline's.
import { resolve } from 'node:path';
import { describeRuntime, shardOf, singleProcessGroup, type ProcessGroup } from '@opensora-ts/kernels';
import type { RefineOptions } from '@opensora-ts/conditioning';
import { hashFile, type FileHash } from './hash.js';
import { peakRssMiB } from './memory.js';
import { outputPath, prepareOutputs, sidecarPath, writeJsonAtomic, writeSample } from './output.js';
import { OpenSoraPipeline } from './pipeline.js';
import { parsePromptLine, readPromptFile, type PromptItem } from './prompts.js';
import { createProgress, type Progress } from './progress.js';
import { generateOptionsOf, type SampleSettings } from './settings.js';
import { checkOutFlags } from './out-flags.js';
import { checkReferences } from './references.js';

export interface RunIO {
  log: (line: string) => void;
  warn: (line: string) => void;
  progress?: Progress;
  /** The command line, recorded in the sidecar. */
  argv?: string[];
  /** Replace existing outputs (default false: an existing file is refused before any generation). */
  overwrite?: boolean;
  /** Under torchrun: this rank samples its share of the prompts (strided), rank 0 prints the summary. Default: a world of one. */
  group?: ProcessGroup;
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
  /** This rank's outputs (every output in a world of one). */
  outputs: SampleOutput[];
  /** Files written by all ranks together. */
  totalOutputs: number;
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

const FLAG_NAMES = { size: '--resolution', frames: '--num-frames' };

export async function runSample(s: SampleSettings, io: RunIO): Promise<RunResult> {
  const started = performance.now();
  const progress = io.progress ?? createProgress();
  const items = collectPrompts(s);
  checkOutFlags(s);
  checkReferences(items);
  const group = io.group ?? singleProcessGroup();
  const lead = group.rank === 0;
  // Each prompt (with all its samples, which share its refined text) has one owner, so each video is written once.
  const mine = new Set(shardOf(items.length, group));
  const pipe = await OpenSoraPipeline.load({ weights: s.weights, textCache: s.text_cache, textEncoder: s.text_encoder, offload: s.offload });
  try {
    if (lead) for (const w of await pipe.modelWarnings()) io.warn(w);
    // The VAE package's check (train uses the same): whole latent cells, at least one latent frame.
    // The DiT pads latents to its patch size (360p works).
    const size = pipe.videoSize({ resolution: s.resolution, aspectRatio: s.aspect_ratio, ...(s.num_frames !== null ? { numFrames: s.num_frames } : {}) }, FLAG_NAMES);
    const { height, width, numFrames } = size;
    const runWarnings = size.warning ? [size.warning] : [];
    if (lead) for (const w of runWarnings) io.warn(w);
    const fps = s.fps ?? pipe.defaults.fps;
    const saveFps = Math.max(1, Math.floor(fps / s.frame_interval));
    const image = numFrames === 1;
    const overwrite = io.overwrite ?? false;
    const pathOf = (index: number, k: number) => outputPath({ out: s.out, saveDir: s.save_dir, index, count: items.length, k, samples: s.num_sample, image });
    prepareOutputs(
      items.flatMap((_, index) => Array.from({ length: s.num_sample }, (_, k) => pathOf(index, k))),
      // Every rank checks every output (all refuse alike); rank 0 alone removes temporary files of killed runs.
      { image, overwrite, out: s.out, log: io.log, removeStale: lead },
    );

    const info = pipe.info;
    const hashes: FileHash[] = [];
    for (const f of info.files) hashes.push({ role: f.role, ...(await hashFile(f.path)), path: resolve(f.path) } as FileHash);
    const runtime = await describeRuntime();
    const outputs: SampleOutput[] = [];

    for (const [index, item] of items.entries()) {
      if (!mine.has(index)) continue;
      const refine: RefineOptions | undefined = s.llm_refine
        ? {
            url: s.refine_url ?? undefined,
            model: s.refine_model ?? undefined,
            timeoutMs: s.refine_timeout * 1000,
            onWaiting: (ms) => io.log(`prompt ${index}: waiting for the refinement reply (${(ms / 1000).toFixed(1)} s of ${s.refine_timeout} s)`),
            onWarning: (m, info) => io.warn(info.timedOut ? `prompt ${index}: ${m} Give it longer with --refine-timeout SECONDS.` : `prompt ${index}: ${m}`),
          }
        : undefined;
      const prompt = await pipe.preparePrompt(item.text, { loops: s.loop, aes: s.aes ?? undefined, flow: s.flow ?? undefined, cameraMotion: s.camera_motion ?? undefined, ...(refine ? { refine } : {}), index });
      for (const w of prompt.warnings) io.warn(w);
      const shown = new Set([...runWarnings, ...prompt.warnings]);
      for (let k = 0; k < s.num_sample; k++) {
        const t0 = performance.now();
        const path = pathOf(index, k);
        const seed = s.seed + k;
        const video = await pipe.generate({
          prompt: { ...prompt, referencePaths: item.referencePaths, maskStrategy: item.maskStrategy },
          index,
          messageNames: FLAG_NAMES,
          height,
          width,
          numFrames,
          fps,
          seed,
          ...generateOptionsOf(s),
          onStart: (job) => io.log(`sample ${index}${s.num_sample > 1 ? `-${k}` : ''}: "${prompt.final}" ${height}x${width}, ${numFrames} frame(s)${s.loop > 1 ? ` x ${s.loop} loops` : ''}, ${job.steps} steps, cfg ${job.cfgScale}, seed ${seed}${job.condType ? `, ${job.condType} from ${item.referencePaths.join(', ')}` : ''}`),
          onProgress: (p) => progress.update(p.phase, p.done, p.total),
          onLog: (l) => {
            progress.stop();
            io.log(l);
          },
          onWarning: (l) => {
            if (shown.has(l)) return;
            progress.stop();
            io.warn(l);
          },
        });
        progress.stop();
        const m = video.metadata;
        await writeSample(path, video, saveFps, s.crf, { overwrite, out: s.out });
        const output = await hashFile(path);
        const seconds = (performance.now() - t0) / 1000;
        const settings: SampleSettings = {
          ...s,
          // The sidecar's settings reproduce this one sample: the refined text, its seed, one sample, this file.
          prompt: [item.maskStrategy || item.referencePaths.length ? `${prompt.refined} ${JSON.stringify({ ...(item.referencePaths.length ? { reference_path: item.referencePaths.map((p) => resolve(p)).join(';') } : {}), ...(item.maskStrategy ? { mask_strategy: item.maskStrategy } : {}) })}` : prompt.refined],
          prompt_path: null,
          llm_refine: false,
          reference_path: null,
          cond_type: m.condType,
          resolution: `${height}x${width}`,
          aspect_ratio: null,
          num_frames: numFrames,
          fps,
          num_sampling_steps: m.steps,
          cfg_scale: m.cfgScale,
          use_timestep_transform: m.useTimestepTransform,
          seed: m.seed,
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
            refined: prompt.refined,
            final: prompt.final,
            per_loop: prompt.perLoop,
            negative: s.negative_prompt,
            empty_after_cleaning: prompt.emptyAfterCleaning,
            // null where the encoder cannot tell (cached embeddings).
            tokens: prompt.tokens ? { count: prompt.tokens.count, kept: prompt.tokens.kept, max_length: prompt.tokens.maxLength } : null,
            unknown_words: prompt.unknownWords,
          },
          warnings: m.warnings,
          references: m.references,
          video: { height, width, num_frames: m.numFrames, num_frames_asked: numFrames, save_fps: image ? null : saveFps, latent_shape: m.latentShape, merged_latent_frames: m.mergedLatentFrames },
          models: { source: info.source, demo_status: info.demoStatus, configs: pipe.info.configs, files: hashes },
          runtime: { ...runtime, node: process.version, note: 'bit-for-bit reproduction needs the same backend and thread count', rank: group.rank, world_size: group.worldSize },
          output: { path: resolve(path), bytes: output.bytes, sha256: output.sha256 },
          timing: { seconds: Number(seconds.toFixed(2)), peak_rss_mib: Number(peakRssMiB().toFixed(0)) },
          // Each phase's own peak (RSS; tensor bytes, which are GPU memory on CUDA) and the models it held.
          memory: {
            offload: m.memory.offload,
            phases: [pipe.loadMemory, ...m.memory.phases].map((p) => ({ phase: p.phase, seconds: p.seconds, peak_rss_mib: p.peakRssMiB, peak_rss_scope: p.peakRssScope, tensor_mib: p.tensorMiB, tensor_peak_mib: p.tensorPeakMiB, models: p.models })),
          },
        }, { overwrite, out: s.out });
        outputs.push({ path, sidecar, numFrames: m.numFrames, height, width, seconds });
        io.log(`wrote ${path} (${m.numFrames} frame(s), ${height}x${width}) and ${sidecar} in ${seconds.toFixed(1)} s`);
      }
    }
    const mineDone = { files: outputs.length, peak: peakRssMiB() };
    const all = await group.allGatherJson(mineDone);
    const files = all.reduce((n, r) => n + r.files, 0);
    const total = (performance.now() - started) / 1000;
    const peak = Math.max(...all.map((r) => r.peak));
    if (lead) io.log(`done: ${files} file(s) in ${total.toFixed(1)} s, peak RSS ${peak.toFixed(0)} MiB${group.worldSize > 1 ? ` (the largest of ${group.worldSize} ranks)` : ''}`);
    return { outputs, totalOutputs: files, seconds: total, peakRssMiB: mineDone.peak };
  } finally {
    pipe.dispose();
  }
}
