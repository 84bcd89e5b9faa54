// Decoding and encoding through ffmpeg: raw rgb24 frames over pipes. Decoding keeps only the frames
// asked for, so a long clip never sits in memory whole. Every failure a user's file can cause is a
// MediaError with a reason (missing, unreadable, no-frames, too-short), never a crash.
import { existsSync, statSync } from 'node:fs';
import { extname } from 'node:path';
import { withAtomicFile } from '@opensora-ts/kernels';
import { MediaError, ffmpegPath, firstLine, formatCommand, lastLine, probeMedia, runTool } from './ffmpeg.js';
import type { DecodedVideoCache } from './decoded-video-cache.js';
import { resizeCropImage, resizeCropVideo, temporalCropIndices, type Clip, type ClipLayout, type RandomInt } from './transforms.js';

/** Video extensions the reference reads; everything else with an image extension is an image. */
export const VIDEO_EXTENSIONS = ['.mp4', '.avi', '.mov', '.mkv'] as const;
/** torchvision's IMG_EXTENSIONS. */
export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif', '.tiff', '.webp'] as const;
/** The fps the reference gives an image sample. */
export const IMG_FPS = 120;

export function mediaType(path: string): 'video' | 'image' | null {
  const ext = extname(path).toLowerCase();
  if ((VIDEO_EXTENSIONS as readonly string[]).includes(ext)) return 'video';
  if ((IMAGE_EXTENSIONS as readonly string[]).includes(ext)) return 'image';
  return null;
}

/** uint8 RGB frames, T x H x W x 3. */
export interface Frames {
  data: Uint8Array;
  numFrames: number;
  height: number;
  width: number;
  fps: number;
}

function checkExists(path: string): void {
  if (!existsSync(path)) throw new MediaError(path, 'missing', 'file not found; check the path (relative paths resolve against the CSV folder).');
  if (!statSync(path).isFile()) throw new MediaError(path, 'unreadable', 'not a regular file.');
}

export interface DecodeOptions {
  /** Keep only these frame indices (ascending); all frames when omitted. */
  indices?: number[];
  /** Stop decoding after this many frames. */
  maxFrames?: number;
  /** Known geometry (skips a probe). */
  width?: number;
  height?: number;
  fps?: number;
}

/** Decodes a video (or image) to RGB frames. */
export async function decodeFrames(path: string, opts: DecodeOptions = {}): Promise<Frames> {
  checkExists(path);
  let { width, height, fps } = opts;
  if (width === undefined || height === undefined || fps === undefined) {
    const p = await probeMedia(path, false);
    width = p.width;
    height = p.height;
    fps = p.fps;
  }
  if (!(width > 0 && height > 0)) throw new MediaError(path, 'unreadable', `bad frame size ${width}x${height}.`);
  const frameBytes = width * height * 3;
  const want = opts.indices;
  const keep = want ? new Map(want.map((f, k) => [f, k])) : undefined;
  const lastWanted = want ? Math.max(-1, ...want) : Infinity;
  const limit = Math.min(opts.maxFrames ?? Infinity, lastWanted + 1);
  const chunks: Buffer[] = [];
  const out = want ? new Uint8Array(want.length * frameBytes) : undefined;
  const got = new Set<number>();
  let pending: Buffer = Buffer.alloc(0);
  let frameNo = 0;
  const onFrame = (buf: Buffer) => {
    if (keep) {
      const k = keep.get(frameNo);
      if (k !== undefined) {
        out!.set(buf, k * frameBytes);
        got.add(frameNo);
      }
    } else chunks.push(Buffer.from(buf));
    frameNo++;
  };
  const args = ['-v', 'error', '-nostdin', '-i', path];
  if (Number.isFinite(limit)) args.push('-frames:v', String(limit));
  // passthrough: one output frame per decoded frame (no duplication to a constant rate).
  args.push('-fps_mode', 'passthrough', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1');
  const r = await runTool(ffmpegPath(), args, {
    onStdout: (c) => {
      pending = pending.length ? Buffer.concat([pending, c]) : c;
      let off = 0;
      while (pending.length - off >= frameBytes) {
        onFrame(pending.subarray(off, off + frameBytes));
        off += frameBytes;
      }
      pending = pending.subarray(off);
    },
  });
  // A damaged file may still yield frames with a non-zero exit; only "no frames" is fatal here.
  if (frameNo === 0) {
    throw new MediaError(path, r.code !== 0 ? 'unreadable' : 'no-frames', r.code !== 0 ? `ffmpeg could not decode it: ${firstLine(r.stderr)}` : 'no frames decoded.');
  }
  if (want) {
    const missingIdx = want.filter((f) => !got.has(f));
    if (missingIdx.length) {
      throw new MediaError(path, 'too-short', `decoded ${frameNo} frames, but frame ${missingIdx[0]} was needed (the CSV's num_frames may be wrong).`);
    }
    return { data: out!, numFrames: want.length, height, width, fps };
  }
  return { data: new Uint8Array(Buffer.concat(chunks)), numFrames: frameNo, height, width, fps };
}

export interface LoadOptions {
  /** Target frames (1 for images), height and width: the bucket's [T, H, W]. */
  numFrames: number;
  height: number;
  width: number;
  frameInterval?: number;
  /** Random source for the temporal crop's start; `Math.random` based when omitted. */
  randint?: RandomInt;
  /** Total frames when known (e.g. the CSV's num_frames); probed by counting otherwise. */
  totalFrames?: number;
  layout?: ClipLayout;
  /** Whole decoded videos to reuse (decoded once, then cropped in memory). */
  decodedCache?: DecodedVideoCache;
}

export interface Sample extends Clip {
  fps: number;
  path: string;
  frameIndices: number[];
}

const defaultRandint: RandomInt = (lo, hi) => lo + Math.floor(Math.random() * (hi - lo + 1));

/**
 * One training sample as the reference's VariableVideoTextDataset makes it: video -> temporal crop
 * (n frames at `frameInterval`) -> resize_crop -> [-1, 1]; image -> one frame at fps 120.
 */
export async function loadSample(path: string, opts: LoadOptions): Promise<Sample> {
  const type = mediaType(path);
  if (!type) throw new MediaError(path, 'unsupported', `unsupported extension '${extname(path)}'; videos: ${VIDEO_EXTENSIONS.join(' ')}, images: ${IMAGE_EXTENSIONS.join(' ')}.`);
  const layout = opts.layout ?? 'CTHW';
  if (type === 'image') {
    const f = await decodeFrames(path, { maxFrames: 1 });
    const clip = resizeCropImage(f.data, f.height, f.width, opts.height, opts.width, layout);
    return { ...clip, fps: IMG_FPS, path, frameIndices: [0] };
  }
  checkExists(path);
  // The temporal crop's frames: decoded from the file, or cut from a whole video kept in the cache.
  const f = opts.decodedCache ? await cropFromCache(path, opts, opts.decodedCache) : await cropFromFile(path, opts);
  const clip = resizeCropVideo(f.data, f.numFrames, f.height, f.width, opts.height, opts.width, layout);
  const interval = opts.frameInterval ?? 1;
  const fps = Number.isFinite(f.fps) ? Math.floor(f.fps / interval) : Math.floor(24 / interval);
  return { ...clip, fps, path, frameIndices: f.indices };
}

type CroppedFrames = Frames & { indices: number[] };

/** The temporal crop's frame indices; a video too short for it is a MediaError naming the file. */
function cropIndices(path: string, total: number, opts: LoadOptions): number[] {
  try {
    return temporalCropIndices(total, opts.numFrames, opts.frameInterval ?? 1, opts.randint ?? defaultRandint);
  } catch (e) {
    throw new MediaError(path, 'too-short', (e as Error).message);
  }
}

/** Probes the file (counting frames only when the CSV does not give them) and decodes just the crop. */
async function cropFromFile(path: string, opts: LoadOptions): Promise<CroppedFrames> {
  const probe = await probeMedia(path, opts.totalFrames === undefined);
  const total = opts.totalFrames ?? probe.numFrames;
  if (!(total > 0)) throw new MediaError(path, 'no-frames', 'the video has no frames.');
  const indices = cropIndices(path, total, opts);
  return { ...(await decodeFrames(path, { indices, width: probe.width, height: probe.height, fps: probe.fps })), indices };
}

/** The same crop draws, cut from the whole decoded video (decoded into the cache on first use). */
async function cropFromCache(path: string, opts: LoadOptions, cache: DecodedVideoCache): Promise<CroppedFrames> {
  let all = cache.get(path);
  if (!all) {
    all = await decodeFrames(path);
    cache.set(path, all);
  }
  // The CSV's num_frames, as the uncached path uses; the decoded count when it is larger is not trusted.
  const indices = cropIndices(path, opts.totalFrames ?? all.numFrames, opts);
  const missing = indices.find((f) => f >= all.numFrames);
  if (missing !== undefined) throw new MediaError(path, 'too-short', `decoded ${all.numFrames} frames, but frame ${missing} was needed (the CSV's num_frames may be wrong).`);
  const frameBytes = all.height * all.width * 3;
  const data = new Uint8Array(indices.length * frameBytes);
  indices.forEach((f, k) => data.set(all.data.subarray(f * frameBytes, (f + 1) * frameBytes), k * frameBytes));
  return { data, numFrames: indices.length, height: all.height, width: all.width, fps: all.fps, indices };
}

/** Runs ffmpeg writing to a temporary name beside `path`, renamed on success (see kernels' withAtomicFile). */
async function writeAtomically(path: string, args: (tmp: string) => string[], input: Uint8Array, o: EncodeOptions): Promise<void> {
  await withAtomicFile(
    path,
    async (tmp) => {
      const a = args(tmp);
      const r = await runTool(ffmpegPath(), a, { input });
      if (r.code !== 0) throw new Error(`${path}: ffmpeg failed to encode it (exit ${r.code}): ${lastLine(r.stderrTail)}; command: ${formatCommand(ffmpegPath(), a)}`);
    },
    { overwrite: o.overwrite, existsHint: o.existsHint },
  );
}

export interface EncodeOptions {
  fps?: number;
  /** x264 constant rate factor (0 lossless ... 51); 18 is visually lossless. */
  crf?: number;
  /** Replace an existing file (default true); when false an existing `path` is an OutputExistsError. */
  overwrite?: boolean;
  /** What the OutputExistsError tells the user to do. */
  existsHint?: string;
}

/** Encodes uint8 RGB frames (T x H x W x 3) to an H.264 mp4 (yuv420p, faststart), atomically. */
export async function writeVideo(path: string, frames: Uint8Array, numFrames: number, height: number, width: number, opts: EncodeOptions = {}): Promise<void> {
  if (frames.length !== numFrames * height * width * 3) {
    throw new Error(`${path}: ${frames.length} bytes is not ${numFrames} frames of ${height}x${width}x3.`);
  }
  if (height % 2 || width % 2) throw new Error(`${path}: H.264 (yuv420p) needs an even width and height, got ${width}x${height} (WxH); crop or pad the frames to ${width + (width % 2)}x${height + (height % 2)}.`);
  await writeAtomically(
    path,
    (tmp) => ['-v', 'error', '-y', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${width}x${height}`, '-r', String(opts.fps ?? 24), '-i', 'pipe:0',
      '-c:v', 'libx264', '-crf', String(opts.crf ?? 18), '-pix_fmt', 'yuv420p', '-movflags', '+faststart', '-f', 'mp4', tmp],
    frames,
    opts,
  );
}

/** Writes one uint8 RGB frame (H x W x 3) as PNG, atomically. */
export async function writePng(path: string, rgb: Uint8Array, height: number, width: number, opts: Pick<EncodeOptions, 'overwrite' | 'existsHint'> = {}): Promise<void> {
  if (rgb.length !== height * width * 3) throw new Error(`${path}: ${rgb.length} bytes is not ${height}x${width}x3.`);
  await writeAtomically(
    path,
    (tmp) => ['-v', 'error', '-y', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${width}x${height}`, '-i', 'pipe:0', '-frames:v', '1', '-f', 'image2', '-c:v', 'png', tmp],
    rgb,
    opts,
  );
}

/** Decodes an image to RGB. */
export async function readImage(path: string): Promise<Frames> {
  return decodeFrames(path, { maxFrames: 1 });
}
