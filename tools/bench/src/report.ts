// The result rows every suite returns, and their table. ratio_to_torch = torch ms / our ms,
// so above 1 means faster than PyTorch.
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

/** Fills ratio_to_torch of every row from the torch row of the same op. */
export function withTorchRatios(rows: Row[]): Row[] {
  const torch = new Map(rows.filter((r) => r.backend === 'torch').map((r) => [r.op, r.ms]));
  return rows.map((r) => ({ ...r, ratio_to_torch: torch.has(r.op) ? torch.get(r.op)! / r.ms : null }));
}

export function formatTable(rows: Row[]): string {
  const head = ['op', 'backend', 'threads', 'ms', 'GFLOP/s', 'vs torch'];
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
