// The result rows every suite returns, and their table. ratio_to_torch = PyTorch ms / our ms,
// so above 1 means faster than PyTorch. PyTorch's rows are named 'pytorch' (REFERENCE_BACKEND):
// 'torch' is our libtorch backend (@opensora-ts/tfjs-backend-torch).

/** The backend name of PyTorch's own rows, which the ratios divide by. */
export const REFERENCE_BACKEND = 'pytorch';
export interface Row {
  op: string;
  backend: string;
  threads: number;
  ms: number;
  gflops: number | null;
  ratio_to_torch: number | null;
}

export function makeRow(op: string, backend: string, threads: number, ms: number, flops: number | null): Row {
  return { op, backend, threads, ms, gflops: flops ? flops / (ms * 1e6) : null, ratio_to_torch: null };
}

/** Fills ratio_to_torch of every row from the PyTorch row of the same op. */
export function withTorchRatios(rows: Row[]): Row[] {
  const torch = new Map(rows.filter((r) => r.backend === REFERENCE_BACKEND).map((r) => [r.op, r.ms]));
  return rows.map((r) => ({ ...r, ratio_to_torch: torch.has(r.op) ? torch.get(r.op)! / r.ms : null }));
}

export function formatTable(rows: Row[]): string {
  const head = ['op', 'backend', 'threads', 'ms', 'GFLOP/s', 'vs pytorch'];
  const body = rows.map((r) => [
    r.op,
    r.backend,
    String(r.threads),
    r.ms >= 100 ? r.ms.toFixed(0) : r.ms.toFixed(2),
    r.gflops === null ? '-' : r.gflops.toFixed(1),
    r.ratio_to_torch === null ? '-' : `${r.ratio_to_torch.toFixed(2)}x`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

/**
 * Rows of the model suites (vae, stdit): one timed case of a model on one backend, with the peak
 * resident memory of the process while the case ran. ratio_to_torch as above (torch ms / our ms).
 */
export interface CaseRow {
  suite: string;
  case: string;
  backend: string;
  threads: number;
  /** Fastest repetition (null: the row measures memory only). */
  ms: number | null;
  /** Peak RSS of the process during the timed calls, MiB (weights included, load transients not). */
  peak_rss_mb: number | null;
  ratio_to_torch: number | null;
  /** Short remark: a check against the reference, a skip reason, the RSS before the work. */
  note?: string;
}

export function makeCaseRow(suite: string, c: string, backend: string, threads: number, ms: number | null, peakRssMb: number | null, note?: string): CaseRow {
  return { suite, case: c, backend, threads, ms, peak_rss_mb: peakRssMb, ratio_to_torch: null, ...(note ? { note } : {}) };
}

/** Fills ratio_to_torch of every row from the PyTorch row of the same case. */
export function withCaseTorchRatios(rows: CaseRow[]): CaseRow[] {
  const torch = new Map(rows.filter((r) => r.backend === REFERENCE_BACKEND && r.ms !== null).map((r) => [r.case, r.ms!]));
  return rows.map((r) => ({ ...r, ratio_to_torch: torch.has(r.case) && r.ms !== null ? torch.get(r.case)! / r.ms : null }));
}

export function formatCaseTable(rows: CaseRow[]): string {
  const head = ['case', 'backend', 'threads', 'ms', 'peak RSS MiB', 'vs pytorch', 'note'];
  const body = rows.map((r) => [
    r.case,
    r.backend,
    String(r.threads),
    r.ms === null ? '-' : r.ms >= 100 ? r.ms.toFixed(0) : r.ms.toFixed(2),
    r.peak_rss_mb === null ? '-' : r.peak_rss_mb.toFixed(0),
    r.ratio_to_torch === null ? '-' : `${r.ratio_to_torch.toFixed(2)}x`,
    r.note ?? '',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const left = new Set([0, 1, 6]);
  const line = (cells: string[]) => cells.map((c, i) => (left.has(i) ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}
