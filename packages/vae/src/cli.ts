// opensora-vae: encode a video to latents, decode latents to a video, or reconstruct a video
// and print PSNR/SSIM. Video I/O goes through this package's own ffmpeg wrapper.
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { Command } from 'commander';
import { checkOutputPath, describeStaleTemps, initRuntime, removeStaleTemps, SafetensorsFile, tf, writeSafetensors } from '@opensora-ts/kernels';
import { ChunkedVideoCodec, type ChunkProgress } from './chunked-codec.js';
import { parseVaeConfig, resolveVaeConfig, VAE_PRESETS } from './config.js';
import { readVideo, VideoWriter, type RawVideo } from './ffmpeg.js';
import { loadVaeWeights } from './load-weights.js';
import { psnr, ssim, SSIM_WINDOW } from './metrics.js';
import { createVae, type OpenSoraVAE } from './vae.js';

interface CommonOptions {
  overwrite?: boolean;
  weights?: string;
  config: string;
  frames?: string;
  size?: string;
  fps?: string;
  seed?: string;
  sample?: boolean;
}

const log = (line: string) => process.stderr.write(`${line}\n`);

const EXISTS_HINT = 'pass --overwrite to replace it, or choose another -o.';

/** Before any work: the output's folder exists and is writable, and an existing file is replaced only with --overwrite; temporary files of stopped runs there are removed. */
function prepareOutput(path: string, overwrite?: boolean): void {
  checkOutputPath(path, { overwrite: !!overwrite, existsHint: EXISTS_HINT });
  const stale = describeStaleTemps(removeStaleTemps(dirname(path)));
  if (stale) log(`opensora-vae: ${stale}`);
}

/**
 * The size written for frames of `height` x `width`: H.264 needs even sizes, so an odd side takes
 * one more row/column of the decoded frame (the decoder's output covers whole 8-pixel cells).
 */
function evenOutputSize(height: number, width: number, decodedHeight: number, decodedWidth: number): { height: number; width: number } {
  const h = height + (height % 2);
  const w = width + (width % 2);
  if (h > decodedHeight || w > decodedWidth) throw new Error(`frames of ${width}x${height} (WxH) cannot be written as H.264, which needs even sizes; pass --size with even numbers.`);
  if (h !== height || w !== width) log(`opensora-vae: ${width}x${height} (WxH) is odd and H.264 needs even sizes: writing ${w}x${h}, with the decoder's next row/column of pixels.`);
  return { height: h, width: w };
}

/** The top-left h x w of rgb24 frames [n, H, W, 3]. */
function cropRgb(data: Uint8Array, n: number, H: number, W: number, h: number, w: number): Uint8Array {
  if (h === H && w === W) return data;
  const out = new Uint8Array(n * h * w * 3);
  for (let t = 0; t < n; t++) for (let y = 0; y < h; y++) out.set(data.subarray(((t * H + y) * W) * 3, ((t * H + y) * W + w) * 3), ((t * h + y) * w) * 3);
  return out;
}

/** The config's latent channels, checked before the model is built. */
function configuredZChannels(spec: string): number {
  try {
    const { config, source } = resolveVaeConfig(spec);
    return parseVaeConfig(config, source).encoder.z_channels;
  } catch (err) {
    throw new Error(`--config ${(err as Error).message.replace(/^VAE config '[^']*': /, `${spec}: `)}`);
  }
}

function buildVae(o: CommonOptions): OpenSoraVAE {
  let vae: OpenSoraVAE;
  try {
    vae = createVae(o.config);
  } catch (err) {
    throw new Error(`--config ${(err as Error).message.replace(/^VAE config '[^']*': /, `${o.config}: `)}`);
  }
  if (o.weights) loadVaeWeights(vae, o.weights);
  else log('opensora-vae: no --weights given: using random weights (only useful to try the pipeline).');
  return vae;
}

function parseSize(size?: string): { width?: number; height?: number } {
  if (!size) return {};
  const m = /^(\d+)x(\d+)$/.exec(size);
  if (!m) throw new Error(`--size ${size}: expected HEIGHTxWIDTH, e.g. 256x256.`);
  return { height: Number(m[1]), width: Number(m[2]) };
}

function parseCount(flag: string, v?: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} ${v}: expected a positive integer.`);
  return n;
}

const progress: ChunkProgress = ({ op, chunk, chunks, item, items }) =>
  log(`${op} chunk ${chunk + 1}/${chunks}${items > 1 ? ` (clip ${item + 1}/${items})` : ''}`);

/** rgb24 [T, H, W, 3] -> [1, 3, T, H, W] in [-1, 1]. */
function videoToTensor(v: RawVideo): tf.Tensor5D {
  return tf.tidy(() => {
    const x = tf.tensor(v.data, [1, v.frames, v.height, v.width, 3], 'int32');
    return tf.transpose(tf.sub(tf.div(tf.cast(x, 'float32'), 127.5), 1), [0, 4, 1, 2, 3]) as tf.Tensor5D;
  });
}

/** [1, 3, n, H, W] in [-1, 1] -> rgb24 [n, h, w, 3], cropped to h x w. */
function tensorToRgb(x: tf.Tensor5D, height: number, width: number): Uint8Array {
  const t = tf.tidy(() => {
    const [, c, n] = x.shape;
    const cl = tf.slice(tf.transpose(x, [0, 2, 3, 4, 1]), [0, 0, 0, 0, 0], [1, n, height, width, c]);
    return tf.round(tf.mul(tf.add(tf.clipByValue(cl, -1, 1), 1), 127.5));
  });
  const out = Uint8Array.from(t.dataSync());
  t.dispose();
  return out;
}

/** The reference trims clips to 16k+1 frames with overlapping chunks (17k without). */
function usableFrames(codec: ChunkedVideoCodec, input: string, available: number, wanted?: number, truncated = ''): number {
  const n = Math.min(wanted ?? available, available);
  const { micro_frame_size: m, temporal_overlap: overlap } = codec.options;
  if (!m || n === 1) return n;
  const k = overlap ? Math.floor((n - 1) / (m - 1)) * (m - 1) + 1 : Math.floor(n / m) * m;
  if (k < 1 || (overlap && k === 1 && n > 1)) {
    throw new Error(`${input}: ${n} frames${truncated}; with micro_frame_size ${m} at least ${m} frames are needed (or 1 for an image).`);
  }
  return k;
}

/** ", but its header lists 33: the file looks truncated or damaged" when ffmpeg decoded fewer frames than the file lists. */
function truncationNote(video: RawVideo, limit?: number): string {
  const declared = video.declaredFrames ?? 0;
  const expected = limit ? Math.min(limit, declared) : declared;
  return declared > 0 && video.frames < expected ? ` (ffmpeg decoded ${video.frames} of the ${declared} its header lists: the file looks truncated or damaged; copy it again)` : '';
}

async function encodeVideo(input: string, o: CommonOptions) {
  const probeFrames = parseCount('--frames', o.frames);
  // Read (and validate) the input before building the model, so bad input fails fast.
  const video = await readVideo(input, { ...parseSize(o.size), frames: probeFrames });
  const vae = buildVae(o);
  const codec = new ChunkedVideoCodec(vae);
  const truncated = truncationNote(video, probeFrames);
  const frames = usableFrames(codec, input, video.frames, probeFrames, truncated);
  if (truncated) log(`opensora-vae: warning: ${input}: ${video.frames} frames${truncated}.`);
  const clip: RawVideo = { ...video, frames, data: video.data.subarray(0, frames * video.width * video.height * 3) };
  if (frames !== video.frames) log(`opensora-vae: using ${frames} of ${video.frames} frames (whole ${codec.options.micro_frame_size}-frame chunks).`);
  const x = videoToTensor(clip);
  const z = codec.encode(x, { samplePosterior: !!o.sample, seed: parseCount('--seed', o.seed), onProgress: progress });
  x.dispose();
  return { z, clip, vae };
}

/** Decodes to `out` (an even size, see evenOutputSize); returns the size written. */
async function decodeToFile(
  codec: ChunkedVideoCodec,
  z: tf.Tensor5D,
  out: string,
  fps: number,
  size: { height: number; width: number },
  overwrite: boolean,
  collect?: Uint8Array[],
): Promise<void> {
  const [, , t] = z.shape;
  const { height, width } = size;
  const writer = new VideoWriter(out, width, height, fps, { overwrite, existsHint: EXISTS_HINT });
  try {
    for (const piece of codec.decodeFrames(z, { onProgress: progress })) {
      const rgb = tensorToRgb(piece.frames, height, width);
      piece.frames.dispose();
      collect?.push(rgb);
      await writer.write(rgb);
    }
  } catch (err) {
    await writer.abort();
    throw err;
  }
  await writer.close();
  log(`opensora-vae: wrote ${out} (${codec.decodedFrames(t)} frames, ${width}x${height})`);
}

/** The size decode writes for latents `z`: the stored crop (or the whole decoded frame), made even. */
function outputSize(vae: { compression: readonly number[] }, z: tf.Tensor5D, crop?: { height: number; width: number }): { height: number; width: number } {
  const [, , , h, w] = z.shape;
  const [, ph, pw] = vae.compression as [number, number, number];
  return evenOutputSize(crop?.height ?? h * ph, crop?.width ?? w * pw, h * ph, w * pw);
}

function readLatent(path: string): { z: tf.Tensor5D; fps: number; crop?: { height: number; width: number } } {
  if (!existsSync(path)) throw new Error(`${path}: file not found.`);
  const f = new SafetensorsFile(path);
  try {
    const key = f.has('z') ? 'z' : f.keys().length === 1 ? f.keys()[0]! : null;
    if (!key) throw new Error(`${path}: no tensor named 'z' (found ${f.keys().join(', ')}); write latents with 'opensora-vae encode'.`);
    const t = f.read(key);
    if (t.shape.length !== 5) throw new Error(`${path}: latent '${key}' has shape [${t.shape}], expected [B, z_channels, T', h, w].`);
    const meta = f.metadata;
    const crop = meta.height && meta.width ? { height: Number(meta.height), width: Number(meta.width) } : undefined;
    return { z: tf.tensor(t.data as Float32Array, t.shape as [number, number, number, number, number], 'float32') as tf.Tensor5D, fps: Number(meta.fps ?? 24), crop };
  } finally {
    f.close();
  }
}

export function buildProgram(): Command {
  const program = new Command('opensora-vae')
    .description('Open-Sora 1.3 VAE: encode videos to latents, decode latents to videos, measure reconstruction.')
    .showHelpAfterError();
  const common = (cmd: Command) =>
    cmd
      .option('--weights <path>', 'OpenSoraVAE_V1_3 checkpoint (model.safetensors); random weights when absent')
      .option('--config <preset|file.json>', `preset (${Object.keys(VAE_PRESETS).join(', ')}), or a JSON file: a config with the reference's keys, a model.json with a "vae" key (the demo model's), or a Hugging Face config.json`, 'OpenSoraVAE_V1_3')
      .option('--frames <n>', 'frames to read (trimmed to whole chunks: 16k+1 with overlap)')
      .option('--size <HxW>', 'resize frames to HEIGHTxWIDTH before encoding')
      .option('--fps <fps>', 'output frame rate (default: the input video or latent file)');

  common(program.command('encode <video>').description('encode a video to latents.safetensors ([1, 16, T\', h, w], normalized)'))
    .requiredOption('-o, --output <file>', 'latents .safetensors to write')
    .option('--sample', 'sample the posterior (the reference default) instead of taking its mean')
    .option('--seed <n>', 'seed of the posterior noise')
    .option('--overwrite', 'replace an existing output file')
    .action(async (video: string, o: CommonOptions & { output: string }) => {
      prepareOutput(o.output, o.overwrite);
      await initRuntime();
      const { z, clip } = await encodeVideo(video, o);
      const data = z.dataSync() as Float32Array;
      const meta = { frames: String(clip.frames), height: String(clip.height), width: String(clip.width), fps: String(clip.fps), config: o.config };
      writeSafetensors(o.output, { z: { shape: [...z.shape], data } }, meta, { overwrite: !!o.overwrite, existsHint: EXISTS_HINT });
      log(`opensora-vae: wrote ${o.output} (z [${z.shape}] from ${clip.frames} frames ${clip.width}x${clip.height})`);
      z.dispose();
    });

  common(program.command('decode <latents>').description('decode latents.safetensors to an mp4 video'))
    .requiredOption('-o, --output <file>', 'mp4 to write')
    .option('--overwrite', 'replace an existing output file')
    .action(async (latents: string, o: CommonOptions & { output: string }) => {
      prepareOutput(o.output, o.overwrite);
      await initRuntime();
      const { z, fps, crop } = readLatent(latents);
      const zChannels = configuredZChannels(o.config);
      if (z.shape[1] !== zChannels) throw new Error(`${latents}: latent has ${z.shape[1]} channels (shape [${z.shape}]), the VAE expects ${zChannels} (layout [B, C, T, h, w]).`);
      const codec = new ChunkedVideoCodec(buildVae(o));
      await decodeToFile(codec, z, o.output, o.fps ? Number(o.fps) : fps, outputSize(codec.vae, z, crop), !!o.overwrite);
      z.dispose();
    });

  common(program.command('reconstruct <video>').description('encode then decode a video; prints PSNR and SSIM against the input'))
    .requiredOption('-o, --output <file>', 'mp4 to write')
    .option('--sample', 'sample the posterior instead of taking its mean')
    .option('--seed <n>', 'seed of the posterior noise')
    .option('--overwrite', 'replace an existing output file')
    .action(async (video: string, o: CommonOptions & { output: string }) => {
      prepareOutput(o.output, o.overwrite);
      await initRuntime();
      const { z, clip, vae } = await encodeVideo(video, o);
      const codec = new ChunkedVideoCodec(vae);
      const size = outputSize(vae, z, { height: clip.height, width: clip.width });
      const pieces: Uint8Array[] = [];
      await decodeToFile(codec, z, o.output, o.fps ? Number(o.fps) : clip.fps, size, !!o.overwrite, pieces);
      z.dispose();
      const written = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0));
      let at = 0;
      for (const p of pieces) {
        written.set(p, at);
        at += p.length;
      }
      // Metrics on the input's own pixels (an odd size was written one row/column larger).
      const recon = cropRgb(written, clip.frames, size.height, size.width, clip.height, clip.width);
      const p = psnr(clip.data, recon, 255);
      const s = clip.width >= SSIM_WINDOW && clip.height >= SSIM_WINDOW ? meanFrameSsim(clip.data, recon, clip.frames, clip.height, clip.width).toFixed(4) : `n/a (frames under ${SSIM_WINDOW} px)`;
      console.log(`PSNR ${p.toFixed(2)} dB  SSIM ${s}  (${clip.frames} frames ${clip.width}x${clip.height})`);
    });
  return program;
}

/** SSIM averaged over the frames of two uint8 [T, H, W, 3] videos. */
function meanFrameSsim(a: Uint8Array, b: Uint8Array, frames: number, height: number, width: number): number {
  const n = height * width * 3;
  let total = 0;
  for (let t = 0; t < frames; t++) total += ssim(a.subarray(t * n, (t + 1) * n), b.subarray(t * n, (t + 1) * n), height, width, 3, 255);
  return total / frames;
}

/** Runs the CLI; user errors print one line and give exit code 1. */
export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    const lines = ((err as Error).message ?? String(err)).split('\n').map((l) => l.trim()).filter(Boolean);
    // Multi-line reports (a checkpoint's key list) keep their summary and first entry on one line.
    process.stderr.write(`opensora-vae: ${lines[0]}${lines.length > 1 ? `; first: ${lines[1]}` : ''}\n`);
    if (process.env.OPENSORA_DEBUG) process.stderr.write(`${(err as Error).stack}\n`);
    return 1;
  }
}
