// Output files: the video (H.264 mp4) or image (PNG) through the data package's ffmpeg writer, and
// the JSON sidecar holding every setting, the prompts as encoded, the model files' SHA-256 and the
// runtime, so that `opensora-sample --config SIDE.json` reproduces the sample.
import { mkdirSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { writePng, writeVideo } from '@opensora-ts/data';
import { checkOutputPath, describeStaleTemps, removeStaleTemps, writeFileAtomic } from '@opensora-ts/kernels';
import type { GeneratedVideo } from './generate.js';

/** The output path of prompt `index` / sample `k`: --out (suffixed when there are several) or save_dir/sample_{index:04d}. */
export function outputPath(o: { out: string | null; saveDir: string; index: number; count: number; k: number; samples: number; image: boolean }): string {
  const ext = o.image ? '.png' : '.mp4';
  const suffix = o.samples > 1 ? `-${o.k}` : '';
  if (o.out) {
    const e = extname(o.out);
    const stem = e ? o.out.slice(0, -e.length) : o.out;
    const many = o.count > 1 ? `_${String(o.index).padStart(4, '0')}` : '';
    return `${stem}${many}${suffix}${e || ext}`;
  }
  return join(o.saveDir, `sample_${String(o.index).padStart(4, '0')}${suffix}${ext}`);
}

/** Checks that the extension fits what is made (.mp4 for video, .png for one frame). */
export function checkExtension(path: string, image: boolean): void {
  const e = extname(path).toLowerCase();
  if (image && e !== '.png') throw new Error(`--out ${path}: one frame is written as PNG; use a .png name (or --num-frames > 1 for a video).`);
  if (!image && e !== '.mp4') throw new Error(`--out ${path}: a video is written as H.264 mp4; use a .mp4 name (or --num-frames 1 for a PNG).`);
}

/** What an existing output tells the user (the sample app never replaces one silently). */
export function existsHint(out: string | null): string {
  return `pass --overwrite to replace it (and its .json sidecar), or choose another ${out ? '--out' : '--save-dir'}.`;
}

/**
 * Before any generation: every output and sidecar can be written (folders made, existing files
 * refused unless `overwrite`), and temporary files of killed runs in those folders are removed.
 */
export function prepareOutputs(paths: readonly string[], o: { image: boolean; overwrite: boolean; out: string | null; log: (line: string) => void; removeStale?: boolean }): void {
  const dirs = new Set<string>();
  for (const path of paths) {
    checkExtension(path, o.image);
    for (const p of [path, sidecarPath(path)]) checkOutputPath(p, { overwrite: o.overwrite, createFolder: true, existsHint: existsHint(o.out) });
    dirs.add(dirname(path) || '.');
  }
  if (o.removeStale === false) return;
  for (const dir of dirs) {
    const line = describeStaleTemps(removeStaleTemps(dir));
    if (line) o.log(line);
  }
}

export async function writeSample(path: string, video: Pick<GeneratedVideo, 'frames' | 'numFrames' | 'height' | 'width'>, fps: number, crf: number, o: { overwrite?: boolean; out?: string | null } = {}): Promise<void> {
  mkdirSync(dirname(path) || '.', { recursive: true });
  const safe = { overwrite: o.overwrite ?? true, existsHint: existsHint(o.out ?? null) };
  if (video.numFrames === 1) await writePng(path, video.frames, video.height, video.width, safe);
  else await writeVideo(path, video.frames, video.numFrames, video.height, video.width, { fps, crf, ...safe });
}

/** The sidecar path of an output: FILE.mp4 -> FILE.json. */
export function sidecarPath(path: string): string {
  const e = extname(path);
  return join(dirname(path), `${basename(path, e)}.json`);
}

export function writeJsonAtomic(path: string, value: unknown, o: { overwrite?: boolean; out?: string | null } = {}): void {
  writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`, { overwrite: o.overwrite ?? true, existsHint: existsHint(o.out ?? null) });
}
