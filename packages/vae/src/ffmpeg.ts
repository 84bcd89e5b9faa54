// A small ffmpeg/ffprobe wrapper (child processes with streams) so the VAE package reads and
// writes videos on its own. Frames are rgb24 bytes [T, H, W, 3].
import { spawn } from 'node:child_process';
import { existsSync, rmSync, statSync } from 'node:fs';
import { commitTempFile, describeWriteError, OutputExistsError, tempPathFor, type AtomicWriteOptions } from '@opensora-ts/kernels';

export interface VideoInfo {
  width: number;
  height: number;
  fps: number;
  /** Frames ffprobe could decode. */
  frames: number;
  /** Frames the container's header lists (0 when it does not say); more than `frames` means a damaged or truncated file. */
  declaredFrames: number;
}

export interface RawVideo {
  width: number;
  height: number;
  frames: number;
  fps: number;
  /** rgb24, frame-major: [T, H, W, 3]. */
  data: Uint8Array;
  /** Frames the file's header lists, when readVideo read it (0 when it does not say). */
  declaredFrames?: number;
}

/** The ffmpeg to run: `FFMPEG` when set (a path or a command name), else `ffmpeg` on PATH. */
export function ffmpegPath(): string {
  return process.env.FFMPEG || 'ffmpeg';
}

/** The ffprobe to run: `FFPROBE` when set, else `ffprobe` on PATH. */
export function ffprobePath(): string {
  return process.env.FFPROBE || 'ffprobe';
}

/** The error for a tool that did not start, naming the variable that chose it. */
function toolMissing(cmd: string, e: Error): string {
  const env = cmd === ffprobePath() ? 'FFPROBE' : 'FFMPEG';
  const chosen = process.env[env] ? ` (from ${env})` : '';
  return `${cmd}${chosen} could not start (${e.message}); install ffmpeg (apt-get install ffmpeg) and make sure it is on PATH, or set ${env} to its path.`;
}

function run(cmd: string, args: string[], input?: Uint8Array): Promise<{ code: number; stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    p.stdout.on('data', (d: Buffer) => out.push(d));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', (e) => reject(new Error(toolMissing(cmd, e))));
    p.on('close', (code) => resolve({ code: code ?? 1, stdout: Buffer.concat(out), stderr: err.trim() }));
    p.stdin.on('error', () => {});
    if (input) p.stdin.end(input);
    else p.stdin.end();
  });
}

function checkFile(path: string): void {
  if (!existsSync(path)) throw new Error(`${path}: file not found.`);
  if (!statSync(path).isFile()) throw new Error(`${path}: not a file.`);
}

export async function probeVideo(path: string): Promise<VideoInfo> {
  checkFile(path);
  const r = await run(ffprobePath(), ['-v', 'error', '-select_streams', 'v:0', '-count_frames', '-show_entries', 'stream=width,height,avg_frame_rate,nb_read_frames,nb_frames', '-of', 'json', path]);
  const firstLine = r.stderr.split('\n')[0] ?? '';
  let stream: { width?: number; height?: number; avg_frame_rate?: string; nb_read_frames?: string; nb_frames?: string } | undefined;
  try {
    stream = (JSON.parse(r.stdout.toString() || '{}') as { streams?: (typeof stream)[] }).streams?.[0];
  } catch {
    stream = undefined;
  }
  if (r.code !== 0 || !stream?.width || !stream.height) {
    throw new Error(`${path}: not a video (ffprobe found no video stream${firstLine ? `: ${firstLine}` : ''}).`);
  }
  const [num, den] = (stream.avg_frame_rate ?? '0/1').split('/').map(Number);
  const fps = den ? num! / den : 0;
  const declared = Number(stream.nb_frames ?? 0);
  return { width: stream.width, height: stream.height, fps: fps > 0 ? fps : 24, frames: Number(stream.nb_read_frames ?? 0), declaredFrames: Number.isFinite(declared) ? declared : 0 };
}

/** Decodes up to `frames` frames, scaled to width x height when given. */
export async function readVideo(path: string, options: { frames?: number; width?: number; height?: number } = {}): Promise<RawVideo> {
  const info = await probeVideo(path);
  const width = options.width ?? info.width;
  const height = options.height ?? info.height;
  const args = ['-v', 'error', '-nostdin', '-i', path];
  if (width !== info.width || height !== info.height) args.push('-vf', `scale=${width}:${height}:flags=bicubic`);
  if (options.frames) args.push('-frames:v', String(options.frames));
  args.push('-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1');
  const r = await run(ffmpegPath(), args);
  const frameBytes = width * height * 3;
  if (r.code !== 0) {
    const got = Math.floor(r.stdout.length / frameBytes);
    const cut = info.declaredFrames > got ? `; it decoded ${got} of the ${info.declaredFrames} frames its header lists: the file looks truncated or damaged, copy it again` : '';
    throw new Error(`${path}: ffmpeg could not decode it (${r.stderr.split('\n')[0]})${cut}.`);
  }
  if (r.stdout.length === 0 || r.stdout.length % frameBytes !== 0) {
    throw new Error(`${path}: ffmpeg returned ${r.stdout.length} bytes, not a whole number of ${width}x${height} rgb frames.`);
  }
  return { width, height, fps: info.fps, frames: r.stdout.length / frameBytes, declaredFrames: info.declaredFrames, data: new Uint8Array(r.stdout.buffer, r.stdout.byteOffset, r.stdout.length) };
}

/** A command line as a shell would take it (arguments quoted where needed), for error messages. */
export function formatCommand(cmd: string, args: readonly string[]): string {
  const q = (a: string) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);
  return [cmd, ...args].map(q).join(' ');
}

function lastLine(s: string): string {
  const line = s.split('\n').map((l) => l.trim()).filter(Boolean).at(-1) ?? '';
  return line.length > 300 ? `${line.slice(0, 300)}...` : line || '(no message)';
}

/** H.264 (yuv420p) halves the chroma planes: width and height must be even. */
export function checkEvenSize(path: string, width: number, height: number): void {
  if (width % 2 || height % 2) {
    throw new Error(`${path}: H.264 (yuv420p) needs an even width and height, got ${width}x${height} (WxH); crop or pad the frames to ${width + (width % 2)}x${height + (height % 2)}.`);
  }
}

export interface VideoWriterOptions extends AtomicWriteOptions {
  /** x264 constant rate factor (default 18). */
  crf?: number;
}

/**
 * An H.264 mp4 writer fed frame by frame (rgb24), so long videos never sit in memory whole. ffmpeg
 * writes a temporary file beside `path`; `close()` renames it over `path`, `abort()` (or any
 * failure) removes it, so `path` is never half-written and an existing file survives a failure.
 * An ffmpeg that stops early is one error with its last stderr line and the command, never EPIPE.
 */
export class VideoWriter {
  private readonly proc;
  private readonly done: Promise<void>;
  private readonly tmp: string;
  private readonly command: string;
  private stderr = '';
  private failure: Error | null = null;
  private ended = false;

  constructor(readonly path: string, readonly width: number, readonly height: number, fps: number, private readonly options: VideoWriterOptions = {}) {
    checkEvenSize(path, width, height);
    if (options.overwrite === false && existsSync(path)) throw new OutputExistsError(path, options.existsHint ?? 'delete it, or write to another path.');
    this.tmp = tempPathFor(path);
    const args = [
      '-v', 'error', '-y', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${width}x${height}`, '-r', String(fps), '-i', 'pipe:0',
      '-c:v', 'libx264', '-crf', String(options.crf ?? 18), '-pix_fmt', 'yuv420p', '-movflags', '+faststart', this.tmp,
    ];
    this.command = formatCommand(ffmpegPath(), args);
    this.proc = spawn(ffmpegPath(), args, { stdio: ['pipe', 'ignore', 'pipe'] });
    this.proc.stderr.on('data', (d: Buffer) => {
      this.stderr += d.toString();
      if (this.stderr.length > 16384) this.stderr = this.stderr.slice(-8192);
    });
    // ffmpeg gone early: writes fail with EPIPE; the exit status below says why.
    this.proc.stdin.on('error', () => {});
    this.done = new Promise((resolve, reject) => {
      this.proc.on('error', (e) => reject(new Error(toolMissing(ffmpegPath(), e))));
      this.proc.on('close', (code, signal) => {
        this.ended = true;
        if (code === 0) resolve();
        else reject(new Error(`${path}: ffmpeg failed to encode it (${signal ? `killed by ${signal}` : `exit ${code}`}): ${lastLine(this.stderr)}; command: ${this.command}`));
      });
    });
    this.done.catch((e: Error) => (this.failure = e));
  }

  /** Appends frames [n, H, W, 3] rgb24. */
  async write(frames: Uint8Array): Promise<void> {
    if (frames.length % (this.width * this.height * 3) !== 0) throw new Error(`VideoWriter: ${frames.length} bytes is not a whole number of ${this.width}x${this.height} frames.`);
    if (this.failure || this.ended) return this.fail();
    if (!this.proc.stdin.write(frames)) {
      await Promise.race([new Promise<void>((r) => this.proc.stdin.once('drain', () => r())), this.done]).catch(() => {});
    }
    if (this.failure) return this.fail();
  }

  private async fail(): Promise<never> {
    await this.done.catch(() => {});
    rmSync(this.tmp, { force: true });
    throw this.failure ?? new Error(`${this.path}: ffmpeg stopped early; command: ${this.command}`);
  }

  /** Finishes the file and renames it over `path`. */
  async close(): Promise<void> {
    this.proc.stdin.end();
    try {
      await this.done;
      commitTempFile(this.tmp, this.path, this.options);
    } catch (err) {
      rmSync(this.tmp, { force: true });
      throw describeWriteError(err, this.path);
    }
  }

  /** Stops ffmpeg and removes the temporary file; `path` is left as it was. */
  async abort(): Promise<void> {
    if (!this.ended) this.proc.kill('SIGKILL');
    await this.done.catch(() => {});
    rmSync(this.tmp, { force: true });
  }
}
