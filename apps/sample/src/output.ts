// Output files: the video (H.264 mp4) or image (PNG) through the data package's ffmpeg writer, and
// the JSON sidecar holding every setting, the prompts as encoded, the model files' SHA-256 and the
// runtime, so that `opensora-sample --config SIDE.json` reproduces the sample.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { writePng, writeVideo } from '@opensora-ts/data';
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

export async function writeSample(path: string, video: GeneratedVideo, fps: number, crf: number): Promise<void> {
  mkdirSync(dirname(path) || '.', { recursive: true });
  if (video.numFrames === 1) await writePng(path, video.frames, video.height, video.width);
  else await writeVideo(path, video.frames, video.numFrames, video.height, video.width, { fps, crf });
}

/** The sidecar path of an output: FILE.mp4 -> FILE.json. */
export function sidecarPath(path: string): string {
  const e = extname(path);
  return join(dirname(path), `${basename(path, e)}.json`);
}

export function writeJsonAtomic(path: string, value: unknown): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`);
  renameSync(tmp, path);
}
