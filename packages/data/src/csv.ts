// RFC 4180 CSV: quoted fields may hold commas, quotes ("") and newlines. Enough for the metadata
// files pandas writes and reads (header row, one record per sample).
import { writeFileAtomic, type AtomicWriteOptions } from '@opensora-ts/kernels';

export interface CsvTable {
  columns: string[];
  /** Records as written; `line` is the 1-based line where the record starts. */
  records: { line: number; values: string[] }[];
}

export function parseCsv(text: string): CsvTable {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const rows: { line: number; values: string[] }[] = [];
  let field = '';
  let values: string[] = [];
  let quoted = false;
  let line = 1;
  let start = 1;
  let any = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else {
        if (ch === '\n') line++;
        field += ch;
      }
      continue;
    }
    if (ch === '"' && field === '') {
      quoted = true;
      any = true;
    } else if (ch === ',') {
      values.push(field);
      field = '';
      any = true;
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      if (any || field !== '') {
        values.push(field);
        rows.push({ line: start, values });
      }
      values = [];
      field = '';
      any = false;
      line++;
      start = line;
    } else {
      field += ch;
      any = true;
    }
  }
  if (any || field !== '') {
    values.push(field);
    rows.push({ line: start, values });
  }
  const header = rows.shift();
  return { columns: header ? header.values.map((c) => c.trim()) : [], records: rows };
}

function quote(v: string): string {
  return /[",\r\n]/.test(v) || v !== v.trim() ? `"${v.replace(/"/g, '""')}"` : v;
}

export function formatCsv(columns: string[], rows: Record<string, unknown>[]): string {
  const cell = (v: unknown) => (v === undefined || v === null || (typeof v === 'number' && Number.isNaN(v)) ? '' : quote(String(v)));
  return [columns.map(quote).join(','), ...rows.map((r) => columns.map((c) => cell(r[c])).join(','))].join('\n') + '\n';
}

/** Writes a CSV to a temporary name and renames it, so a crash never leaves half a file. */
export function writeCsv(path: string, columns: string[], rows: Record<string, unknown>[], options: AtomicWriteOptions = {}): void {
  writeFileAtomic(path, formatCsv(columns, rows), options);
}
