// Reference images and videos for I2V/V2V: read through the data package (ffmpeg), resized and
// center-cropped to the run's size as the reference does, and encoded by the VAE to latents
// [C, T', h, w] (posterior sampled, seeded, as the reference's encode samples it).
import { existsSync, statSync } from 'node:fs';
import { extname } from 'node:path';
import { decodeFrames, mediaType, readImage, resizeCropImage, resizeCropVideo } from '@opensora-ts/data';
import { tf, type Tensor } from '@opensora-ts/kernels';
import type { ChunkedVideoCodec } from '@opensora-ts/vae';

export interface ReferenceClip {
  path: string;
  kind: 'image' | 'video';
  /** [1, 3, T, H, W] in [-1, 1]. */
  pixels: Tensor;
  /** The file's own frame size, before the resize and center crop to the run's size. */
  source: { height: number; width: number };
}

/** The warning for a reference whose size is not the run's (null when it is), in the user's words. */
export function referenceResizeWarning(clip: ReferenceClip, height: number, width: number): string | null {
  const { height: h, width: w } = clip.source;
  if (h === height && w === width) return null;
  return `reference ${clip.path}: ${w}x${h} (WxH) was resized and center-cropped to the run's ${width}x${height}, as the reference does; pass a ${width}x${height} ${clip.kind} to condition on it exactly.`;
}

/**
 * What is wrong with a reference file's name, or null: a folder, or neither an image nor a video
 * (by extension). `name` is how the user gave it ('--image', 'prompt 2\'s "reference_path"').
 */
export function referenceKindProblem(path: string, name: string): string | null {
  if (existsSync(path) && statSync(path).isDirectory()) return `${name} ${path}: is a folder; give one image (.png, .jpg) or video (.mp4) file.`;
  if (!mediaType(path)) {
    const ext = extname(path).toLowerCase();
    const text = ['.txt', '.csv', '.json', '.md', ''].includes(ext);
    return `${name} ${path}: ${ext ? `a ${ext} file` : 'a file without an extension'} is neither an image nor a video; give a .png or .jpg image${name === '--image' ? '' : ' or an .mp4 video'}${text ? ' (prompts from a file go to --prompt-path)' : ''}.`;
  }
  return null;
}

/** referenceKindProblem, and a file that does not exist. */
export function referenceProblem(path: string, name: string): string | null {
  if (!existsSync(path)) return `${name} ${path}: no such file (relative paths are from the current folder, ${process.cwd()}).`;
  return referenceKindProblem(path, name);
}

/** Checks every prompt's reference files before any model is loaded. */
export function checkReferences(items: readonly { referencePaths: string[]; referenceFromFlag?: boolean }[]): void {
  for (const [i, item] of items.entries()) {
    for (const p of item.referencePaths) {
      // From the command line: --image for images, --video for videos (cli.ts checked which is which).
      const name = item.referenceFromFlag ? (mediaType(p) === 'video' ? '--video' : '--image') : `prompt ${i}'s "reference_path"`;
      const problem = referenceProblem(p, name);
      if (problem) throw new Error(problem);
    }
  }
}

/** Reads a reference file at (height, width); videos keep at most `maxFrames` frames from the start. */
export async function readReference(path: string, height: number, width: number, maxFrames: number): Promise<ReferenceClip> {
  const kind = mediaType(path);
  if (!kind) throw new Error(`reference ${path}: unsupported file type; use an image (.png, .jpg, ...) or a video (.mp4, .mov, ...).`);
  if (kind === 'image') {
    const f = await readImage(path);
    const clip = resizeCropImage(f.data, f.height, f.width, height, width, 'CTHW');
    return { path, kind, pixels: tf.tensor5d(clip.data, [1, 3, 1, height, width]), source: { height: f.height, width: f.width } };
  }
  const f = await decodeFrames(path, { maxFrames });
  const clip = resizeCropVideo(f.data, f.numFrames, f.height, f.width, height, width, 'CTHW');
  return { path, kind, pixels: tf.tensor5d(clip.data, [1, 3, f.numFrames, height, width]), source: { height: f.height, width: f.width } };
}

/** VAE-encodes a reference clip to [C, T', h, w]. */
export function encodeReference(codec: ChunkedVideoCodec, ref: ReferenceClip, seed: number, onChunk?: (done: number, total: number) => void, posterior: 'sample' | 'mode' = 'sample'): Tensor {
  const z = codec.encode(ref.pixels as tf.Tensor5D, { seed, samplePosterior: posterior === 'sample', onProgress: onChunk ? (p) => onChunk(p.chunk + 1, p.chunks) : undefined });
  const out = tf.squeeze(z, [0]);
  z.dispose();
  return out;
}
