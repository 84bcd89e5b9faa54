// Metadata CSVs with the reference's columns (path, text, num_frames, height, width, fps,
// aspect_ratio, resolution, aes, flow, cmotion, ...). Relative paths resolve against the CSV's
// folder. A bad row never stops a run: it is reported with its row number and reason, skipped and
// counted, and the report ends with a summary.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parseCsv } from './csv.js';
import { probeMedia, MediaError } from './ffmpeg.js';
import { mediaType } from './video-io.js';

/** Columns the reference's tools write, in their usual order. */
export const METADATA_COLUMNS = ['path', 'text', 'num_frames', 'height', 'width', 'aspect_ratio', 'resolution', 'fps', 'aes', 'flow', 'cmotion'] as const;

export interface MetadataRow {
  /** Position among the kept rows: the sampler's sample index (the reference's `id`). */
  id: number;
  /** 1-based data row number in the CSV (the header is row 0). */
  row: number;
  /** Absolute path. */
  path: string;
  text: string;
  numFrames: number;
  height: number;
  width: number;
  fps?: number;
  aes?: number;
  flow?: number;
  cmotion?: string;
  /** Every column as written (after trimming), for tools that need more. */
  fields: Record<string, string>;
}

export interface SkippedRow {
  row: number;
  path: string;
  reason: string;
  detail: string;
}

/** Collects skipped rows; `summary()` is the line(s) a run ends with. */
export class SkipReport {
  readonly skipped: SkippedRow[] = [];
  total = 0;

  add(row: number, path: string, reason: string, detail: string): void {
    this.skipped.push({ row, path, reason, detail });
  }

  counts(): Record<string, number> {
    const c: Record<string, number> = {};
    for (const s of this.skipped) c[s.reason] = (c[s.reason] ?? 0) + 1;
    return c;
  }

  /** One line per skipped row: "row 12 (clips/a.mp4): missing file: ...". */
  lines(): string[] {
    return this.skipped.map((s) => `row ${s.row} (${s.path || '-'}): ${s.reason}: ${s.detail}`);
  }

  summary(what = 'rows'): string {
    if (this.skipped.length === 0) return `kept all ${this.total} ${what}; skipped none.`;
    const parts = Object.entries(this.counts()).map(([r, n]) => `${n} ${r}`);
    return `kept ${this.total - this.skipped.length} of ${this.total} ${what}; skipped ${this.skipped.length}: ${parts.join(', ')}.`;
  }
}

/** Numeric range on a score column, or a set of allowed strings (e.g. cmotion). */
export interface ColumnFilter {
  min?: number;
  max?: number;
  in?: string[];
}

export interface ReadMetadataOptions {
  /** Keep rows whose column satisfies every filter, e.g. { aes: { min: 4.5 }, flow: { min: 0.3 } }. */
  filters?: Record<string, ColumnFilter>;
  /** Check that each file exists (default true). */
  checkFiles?: boolean;
  /** Probe each media file with ffprobe and skip unreadable ones (slow; default false). */
  probe?: boolean;
}

export interface Metadata {
  csvPath: string;
  columns: string[];
  rows: MetadataRow[];
  /** Rows dropped as bad data (missing file, unreadable, zero frames, bad number...). */
  report: SkipReport;
  /** Rows dropped by the filters (not errors). */
  filtered: number;
  /** Rows each filter rejected, by column (a row failing two filters counts under both). */
  filteredBy: Record<string, number>;
}

function intField(v: string | undefined): number {
  if (v === undefined || v.trim() === '') return NaN;
  const n = Number(v);
  // pandas writes ints of float columns as "17.0".
  return Number.isInteger(n) ? n : NaN;
}

function numField(v: string | undefined): number | undefined {
  if (v === undefined || v.trim() === '') return undefined;
  return Number(v);
}

function passes(value: string | undefined, f: ColumnFilter): boolean {
  if (f.in) return value !== undefined && f.in.includes(value.trim());
  const n = Number(value);
  if (value === undefined || value.trim() === '' || Number.isNaN(n)) return false;
  if (f.min !== undefined && n < f.min) return false;
  if (f.max !== undefined && n > f.max) return false;
  return true;
}

/** Reads and validates a metadata CSV. Throws only when the file itself is unusable. */
export async function readMetadata(csvPath: string, opts: ReadMetadataOptions = {}): Promise<Metadata> {
  if (!existsSync(csvPath)) throw new Error(`${csvPath}: metadata CSV not found.`);
  const table = parseCsv(readFileSync(csvPath, 'utf8'));
  const need = ['path', 'num_frames', 'height', 'width'];
  const missingCols = need.filter((c) => !table.columns.includes(c));
  if (missingCols.length) {
    throw new Error(
      `${csvPath}: missing column(s) ${missingCols.join(', ')}; found ${table.columns.join(', ') || '(none)'}. Build one with \`opensora-data scan FOLDER -o data.csv\`.`,
    );
  }
  for (const c of Object.keys(opts.filters ?? {})) {
    if (!table.columns.includes(c)) {
      const fill = c === 'flow' || c === 'cmotion' ? ' (`opensora-data motion CSV` fills flow and cmotion)' : c === 'aes' ? ' (aes comes from an aesthetic scorer; `opensora-data synth` data has it)' : '';
      throw new Error(`${csvPath}: filter on column '${c}', which the CSV does not have (columns: ${table.columns.join(', ')}); drop the filter or add the column${fill}.`);
    }
  }
  const base = dirname(resolve(csvPath));
  const report = new SkipReport();
  const rows: MetadataRow[] = [];
  let filtered = 0;
  const filteredBy: Record<string, number> = Object.fromEntries(Object.keys(opts.filters ?? {}).map((c) => [c, 0]));
  let rowNo = 0;
  for (const rec of table.records) {
    rowNo++;
    report.total++;
    const fields: Record<string, string> = {};
    table.columns.forEach((c, k) => (fields[c] = (rec.values[k] ?? '').trim()));
    const rel = fields.path ?? '';
    if (rec.values.length !== table.columns.length) {
      report.add(rowNo, rel, 'bad row', `${rec.values.length} fields, the header has ${table.columns.length} (line ${rec.line}).`);
      continue;
    }
    if (!rel) {
      report.add(rowNo, rel, 'missing path', 'the path column is empty.');
      continue;
    }
    const path = isAbsolute(rel) ? rel : resolve(base, rel);
    const nums = { num_frames: intField(fields.num_frames), height: intField(fields.height), width: intField(fields.width) };
    const bad = Object.entries(nums).find(([, v]) => !(v >= 0));
    if (bad) {
      report.add(rowNo, rel, 'bad number', `column ${bad[0]} is '${fields[bad[0]]}', expected a non-negative integer.`);
      continue;
    }
    if (nums.num_frames === 0) {
      report.add(rowNo, rel, 'zero frames', 'num_frames is 0.');
      continue;
    }
    if (nums.height === 0 || nums.width === 0) {
      report.add(rowNo, rel, 'bad number', `frame size ${nums.height}x${nums.width}.`);
      continue;
    }
    const scores: Record<string, number | undefined> = {};
    let badScore: string | undefined;
    for (const c of ['fps', 'aes', 'flow']) {
      const v = numField(fields[c]);
      if (v !== undefined && Number.isNaN(v)) badScore = c;
      scores[c] = v;
    }
    if (badScore) {
      report.add(rowNo, rel, 'bad number', `column ${badScore} is '${fields[badScore]}', expected a number or empty.`);
      continue;
    }
    if (!mediaType(path)) {
      report.add(rowNo, rel, 'unsupported', `extension of '${rel}' is neither a video nor an image.`);
      continue;
    }
    if ((opts.checkFiles ?? true) && !existsSync(path)) {
      report.add(rowNo, rel, 'missing file', `${path} does not exist.`);
      continue;
    }
    if (opts.probe) {
      try {
        const p = await probeMedia(path, false);
        if (!(p.width > 0)) throw new MediaError(path, 'unreadable', 'no video stream.');
      } catch (e) {
        if (e instanceof MediaError && e.reason === 'tool-missing') throw e;
        report.add(rowNo, rel, 'unreadable', e instanceof Error ? e.message : String(e));
        continue;
      }
    }
    const failing = Object.entries(opts.filters ?? {}).filter(([c, f]) => !passes(fields[c], f));
    if (failing.length) {
      filtered++;
      for (const [c] of failing) filteredBy[c]!++;
      continue;
    }
    rows.push({
      id: rows.length,
      row: rowNo,
      path,
      text: fields.text ?? '',
      numFrames: nums.num_frames,
      height: nums.height,
      width: nums.width,
      fps: scores.fps,
      aes: scores.aes,
      flow: scores.flow,
      cmotion: fields.cmotion || undefined,
      fields,
    });
  }
  return { csvPath: resolve(csvPath), columns: table.columns, rows, report, filtered, filteredBy };
}
