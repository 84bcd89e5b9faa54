// ffmpeg / ffprobe as child processes (Debian's package; FFMPEG / FFPROBE override the paths).
// Raw rgb24 frames travel through pipes; nothing is buffered by a fixed maxBuffer.
import { spawn } from 'node:child_process';

export function ffmpegPath(): string {
  return process.env.FFMPEG || 'ffmpeg';
}

export function ffprobePath(): string {
  return process.env.FFPROBE || 'ffprobe';
}

/** Why a media file could not be used; `reason` is what a skip report shows. */
export class MediaError extends Error {
  constructor(
    readonly path: string,
    readonly reason: 'missing' | 'unreadable' | 'no-frames' | 'unsupported' | 'too-short' | 'tool-missing',
    detail: string,
  ) {
    super(`${path}: ${detail}`);
    this.name = 'MediaError';
  }
}

export interface ProcessResult {
  code: number;
  stdout: Buffer;
  /** The head of stderr (64 KiB). */
  stderr: string;
  /** The last 4 KiB of stderr (where a tool says why it stopped). */
  stderrTail: string;
}

export interface RunOptions {
  /** Bytes written to stdin (then closed). */
  input?: Uint8Array;
  /** Streamed stdout; when given, `stdout` of the result is empty. */
  onStdout?: (chunk: Buffer) => void;
}

function toolMissing(cmd: string): Error {
  const env = cmd === ffprobePath() ? 'FFPROBE' : 'FFMPEG';
  return new MediaError(cmd, 'tool-missing', `cannot run '${cmd}'; install ffmpeg (apt-get install ffmpeg) or set ${env} to its path.`);
}

/** Runs a tool to completion; rejects only when it cannot be started. */
export function runTool(cmd: string, args: string[], opts: RunOptions = {}): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let errBytes = 0;
    let tail = Buffer.alloc(0);
    child.stdout.on('data', (c: Buffer) => (opts.onStdout ? opts.onStdout(c) : out.push(c)));
    child.stderr.on('data', (c: Buffer) => {
      // Keep the head of stderr only: a broken file can make ffmpeg print megabytes.
      if (errBytes < 64 * 1024) err.push(c);
      errBytes += c.length;
      tail = Buffer.concat([tail, c]);
      if (tail.length > 4096) tail = tail.subarray(tail.length - 4096);
    });
    child.on('error', (e: NodeJS.ErrnoException) => reject(e.code === 'ENOENT' ? toolMissing(cmd) : e));
    // A tool that exits early closes its stdin; writing more is not an error of ours.
    child.stdin.on('error', () => {});
    child.on('close', (code, signal) =>
      resolve({ code: code ?? (signal ? 128 : 1), stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8').trim(), stderrTail: tail.toString('utf8').trim() }),
    );
    if (opts.input) child.stdin.end(opts.input);
    else child.stdin.end();
  });
}

export interface ProbeInfo {
  width: number;
  height: number;
  /** Average frame rate (frames per second); NaN when the container does not say. */
  fps: number;
  /** Frames counted by decoding (exact), or the container's count when `countFrames` is false. */
  numFrames: number;
  codec: string;
}

function parseRate(r: string | undefined): number {
  if (!r) return NaN;
  const [a, b] = r.split('/').map(Number);
  if (b === undefined) return Number(a);
  return b ? a! / b : NaN;
}

/** ffprobe of the first video stream. Throws MediaError for a missing or unreadable file. */
export async function probeMedia(path: string, countFrames = true): Promise<ProbeInfo> {
  const args = ['-v', 'error', '-select_streams', 'v:0'];
  if (countFrames) args.push('-count_frames');
  args.push('-show_entries', 'stream=width,height,avg_frame_rate,r_frame_rate,nb_frames,nb_read_frames,codec_name', '-of', 'json', path);
  const r = await runTool(ffprobePath(), args);
  if (r.code !== 0) throw new MediaError(path, 'unreadable', `ffprobe failed: ${firstLine(r.stderr)}`);
  const s = (JSON.parse(r.stdout.toString('utf8') || '{}') as { streams?: Record<string, string | number>[] }).streams?.[0];
  if (!s) throw new MediaError(path, 'unreadable', 'no video stream found.');
  let fps = parseRate(s.avg_frame_rate as string);
  if (!Number.isFinite(fps) || fps <= 0) fps = parseRate(s.r_frame_rate as string);
  const n = Number(countFrames ? s.nb_read_frames : s.nb_frames);
  return { width: Number(s.width), height: Number(s.height), fps, numFrames: Number.isFinite(n) ? n : NaN, codec: String(s.codec_name ?? '') };
}

export function firstLine(s: string): string {
  const line = s.split('\n').find((l) => l.trim()) ?? '';
  return line.length > 300 ? `${line.slice(0, 300)}...` : line || '(no message)';
}

/** The last non-empty line of a tool's stderr (where ffmpeg says why it stopped). */
export function lastLine(s: string): string {
  const line = s.split('\n').map((l) => l.trim()).filter(Boolean).at(-1) ?? '';
  return line.length > 300 ? `${line.slice(0, 300)}...` : line || '(no message)';
}

/** A command line as a shell would take it (arguments quoted where needed), for error messages. */
export function formatCommand(cmd: string, args: readonly string[]): string {
  const q = (a: string) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);
  return [cmd, ...args].map(q).join(' ');
}
