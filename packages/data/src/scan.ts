// Builds a metadata CSV from a folder of videos and images with ffprobe: the columns the
// reference's `datautil --info` adds (num_frames, height, width, aspect_ratio = H/W,
// resolution = H*W, fps). Unreadable files are reported and left out.
import { readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { writeCsv } from './csv.js';
import { MediaError, probeMedia } from './ffmpeg.js';
import { SkipReport } from './metadata.js';
import { IMG_FPS, mediaType } from './video-io.js';

export interface ScanOptions {
  recursive?: boolean;
  /** Count frames by decoding (exact, slower); the container's count otherwise. Default true. */
  countFrames?: boolean;
  /** Caption for every row (the text column), default ''. */
  text?: (relPath: string) => string;
  /** Probes run at once. */
  concurrency?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface ScanResult {
  rows: Record<string, string | number>[];
  report: SkipReport;
}

function listMedia(dir: string, recursive: boolean): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (name.startsWith('.')) continue;
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) {
      if (recursive) out.push(...listMedia(p, recursive));
    } else if (mediaType(p)) out.push(p);
  }
  return out;
}

/** Scans `dir`; paths in the rows are relative to `csvDir` (default: `dir`). */
export async function scanFolder(dir: string, csvDir = dir, opts: ScanOptions = {}): Promise<ScanResult> {
  const files = listMedia(resolve(dir), opts.recursive ?? true);
  const report = new SkipReport();
  report.total = files.length;
  const rows: (Record<string, string | number> | undefined)[] = new Array(files.length);
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < files.length) {
      const k = next++;
      const file = files[k]!;
      const rel = relative(resolve(csvDir), file).split(sep).join('/');
      try {
        const image = mediaType(file) === 'image';
        const p = await probeMedia(file, !image && (opts.countFrames ?? true));
        const numFrames = image ? 1 : p.numFrames;
        if (!(numFrames > 0)) throw new MediaError(file, 'no-frames', 'no frames decoded.');
        rows[k] = {
          path: rel,
          text: opts.text ? opts.text(rel) : '',
          num_frames: numFrames,
          height: p.height,
          width: p.width,
          aspect_ratio: p.height / p.width,
          resolution: p.height * p.width,
          fps: image ? IMG_FPS : Number.isFinite(p.fps) ? Number(p.fps.toFixed(6)) : '',
        };
      } catch (e) {
        if (e instanceof MediaError && e.reason === 'tool-missing') throw e;
        report.add(k + 1, rel, e instanceof MediaError ? e.reason : 'unreadable', e instanceof Error ? e.message : String(e));
      }
      opts.onProgress?.(++done, files.length);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, opts.concurrency ?? 2) }, worker));
  return { rows: rows.filter((r): r is Record<string, string | number> => r !== undefined), report };
}

/** Scans a folder and writes the CSV (atomically). */
export async function scanToCsv(dir: string, csvPath: string, opts: ScanOptions = {}): Promise<ScanResult> {
  const r = await scanFolder(dir, dirname(resolve(csvPath)), opts);
  writeCsv(csvPath, ['path', 'text', 'num_frames', 'height', 'width', 'aspect_ratio', 'resolution', 'fps'], r.rows);
  return r;
}
