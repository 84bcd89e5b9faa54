// The VBench hand-off: VBench scores a folder of videos named `{prompt}-{index}.mp4`, 5 per prompt
// of its suite (Open-Sora's eval/vbench runs `--num-sample 5`). This writes exactly that, so a
// user with VBench installed elsewhere points it at the folder unchanged. Resumable: existing
// files are kept. Under a process group each rank samples and writes its share of the files.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { VideoSampler } from './sampler.js';
import type { Video } from './frames.js';
import { runSharded } from './sharded.js';
import type { ProcessGroup } from '@opensora-ts/kernels';

export const VBENCH_SAMPLES_PER_PROMPT = 5;

/** Prompts of a VBench suite file (one per line, e.g. VBench's all_dimension.txt); blank lines dropped. */
export function readPromptSuite(path: string): string[] {
  if (!existsSync(path)) throw new Error(`${path}: prompt suite not found (one prompt per line, e.g. VBench's prompts/all_dimension.txt).`);
  return readFileSync(path, 'utf8').split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);
}

/** The file name VBench expects for sample `index` of `prompt`. */
export function vbenchFileName(prompt: string, index: number): string {
  if (prompt.includes('/') || prompt.includes('\0')) throw new Error(`VBench prompt '${prompt}' contains '/', which cannot be a file name.`);
  const name = `${prompt}-${index}.mp4`;
  if (Buffer.byteLength(name) > 255) throw new Error(`VBench prompt '${prompt.slice(0, 40)}...' makes a file name longer than 255 bytes.`);
  return name;
}

export interface VBenchWriteOptions {
  samplesPerPrompt?: number;
  /** Seed of sample i of prompt p is seed + i (the reference varies the seed per sample). */
  seed?: number;
  /** Writes one video (the data package's writeVideo fits). */
  write: (path: string, video: Video) => Promise<void>;
  /** Called after each of this rank's files (`total` is this rank's share). */
  onProgress?: (done: number, total: number, file: string, skipped: boolean) => void;
  /** Split the files over the ranks of this group (each written by its owner); default one process writes all. */
  group?: ProcessGroup;
}

/**
 * Samples every prompt `samplesPerPrompt` times into `outDir`; returns the files in suite order
 * (on every rank, when `group` splits them).
 */
export async function writeVBenchSamples(prompts: readonly string[], sampler: VideoSampler, outDir: string, o: VBenchWriteOptions): Promise<string[]> {
  const dir = resolve(outDir);
  mkdirSync(dir, { recursive: true });
  const per = o.samplesPerPrompt ?? VBENCH_SAMPLES_PER_PROMPT;
  // Item k: prompt k div per, sample k mod per; every name is checked before any sampling starts.
  const files = prompts.flatMap((prompt) => Array.from({ length: per }, (_, i) => join(dir, vbenchFileName(prompt, i))));
  const skipped = new Set<number>();
  return runSharded(
    files.length,
    async (k) => {
      const file = files[k]!;
      if (existsSync(file)) skipped.add(k);
      else await o.write(file, await sampler(prompts[Math.floor(k / per)]!, (o.seed ?? 42) + (k % per)));
      return file;
    },
    { ...(o.group ? { group: o.group } : {}), onProgress: (d, t, k) => o.onProgress?.(d, t, files[k]!, skipped.has(k)) },
  );
}
