// What the model suites (vae, stdit) share: tensors handed to PyTorch through safetensors files
// (weights under the reference's state-dict keys, inputs, and our output for a check), a
// measured step inside a child process, and the reference side run one case per python process
// so each torch row has its own peak RSS.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSafetensors, tf, writeSafetensors, type WritableTensor } from '@opensora-ts/kernels';
import { peakRssMb, resetPeakRss, rssMb } from './memory.js';
import { makeCaseRow, REFERENCE_BACKEND, type CaseRow } from './report.js';
import { timeIt, type TimingOptions } from './timing.js';
import { findReference, findTorchPython, runTorch, type TorchTiming } from './torch.js';

/** A scratch folder for weights/inputs/outputs, removed by the returned cleanup. */
export function scratchDir(suite: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `opensora-bench-${suite}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Writes tensors (any backend) as F32/I32 safetensors. */
export function writeTensors(path: string, tensors: Map<string, tf.Tensor>): void {
  const out = new Map<string, WritableTensor>();
  for (const [k, t] of tensors) {
    const data = t.dtype === 'int32' ? new Int32Array(t.dataSync() as Int32Array) : Float32Array.from(t.dataSync());
    out.set(k, { shape: [...t.shape], data });
  }
  writeSafetensors(path, out);
}

/** Reads a safetensors file into tensors on the active backend (the caller disposes them). */
export function readTensors(path: string): Map<string, tf.Tensor> {
  const out = new Map<string, tf.Tensor>();
  for (const [k, h] of readSafetensors(path)) out.set(k, tf.tensor(h.data, h.shape, h.dtype));
  return out;
}

/** What a measuring child reports. */
export interface Measurement {
  ms: number;
  /** Peak RSS while the step ran (warm-up included), MiB. */
  peak_rss_mb: number;
  /** RSS when the step started (weights and inputs resident), MiB. */
  rss_before_mb: number;
  /** False where the peak could not be reset (it then counts from process start). */
  peak_reset: boolean;
  /** tf.memory().numTensors after vs before the timed calls (0 = nothing leaked). */
  leaked_tensors: number;
  /** The torch backend's libtorch, device and precision (and host fallbacks), added by the child process. */
  runtime?: string;
}

/**
 * Times `step` (its outputs disposed) with the shared policy, measuring the peak RSS from just
 * before the first call. `first` receives the first call's outputs before they are disposed.
 */
export function measure(step: () => tf.Tensor | tf.Tensor[], timing: TimingOptions, first?: (out: tf.Tensor | tf.Tensor[]) => void): Measurement {
  const rss_before_mb = rssMb();
  const peak_reset = resetPeakRss();
  const tensorsBefore = tf.memory().numTensors;
  let rest = timing;
  if (first) {
    // The first call is also the warm-up.
    const out = step();
    first(out);
    tf.dispose(out);
    rest = { ...timing, warmup: Math.max(0, (timing.warmup ?? 1) - 1) };
  }
  const ms = timeIt(() => tf.dispose(step()), rest);
  return { ms, peak_rss_mb: peakRssMb(), rss_before_mb, peak_reset, leaked_tensors: tf.memory().numTensors - tensorsBefore };
}

/** A row from a child's measurement; the note says the RSS at start so weights and activations can be told apart. */
export function measuredRow(suite: string, name: string, backend: string, threads: number, m: Measurement, extra?: string): CaseRow {
  const notes = [`rss at start ${m.rss_before_mb.toFixed(0)}`];
  if (!m.peak_reset) notes.push('peak since process start');
  if (m.leaked_tensors) notes.push(`${m.leaked_tensors} tensors leaked`);
  if (extra) notes.push(extra);
  if (m.runtime) notes.push(m.runtime);
  return makeCaseRow(suite, name, backend, threads, m.ms, m.peak_rss_mb, notes.join('; '));
}

export interface ReferenceCase {
  name: string;
  /**
   * Python defining `step()` and optionally `check()`, which returns {rel_l2, label?, note?}: the row's
   * note says "<label, default output> vs ours: rel L2 ..." and then `note`. `opensora_reference as R` is imported.
   */
  setup: string;
}

/**
 * Runs each case on the reference model in its own python process (same threads, same timing
 * policy). Without python+torch or OPENSORA_REFERENCE it logs why and returns no rows.
 */
export function referenceRows(suite: string, cases: ReferenceCase[], threads: number, timing: TorchTiming, log: (line: string) => void): CaseRow[] {
  if (!cases.length) return [];
  const ref = findReference();
  if (ref.root === null) {
    log(`skipping the torch reference: ${ref.reason}`);
    return [];
  }
  const found = findTorchPython();
  if (found.python === null) {
    log(`skipping the torch reference: ${found.reason}`);
    return [];
  }
  const rows: CaseRow[] = [];
  for (const c of cases) {
    try {
      const res = runTorch(found.python, [{ op: c.name, setup: `import opensora_reference as R\nR.install()\n${c.setup}` }], threads, timing);
      const info = res.info[c.name] as { rel_l2?: number; label?: string; note?: string } | undefined;
      const notes: string[] = [`PyTorch ${res.version}`];
      if (info?.rel_l2 !== undefined) notes.push(`${info.label ?? 'output'} vs ours: rel L2 ${info.rel_l2.toExponential(1)}`);
      if (info?.note) notes.push(info.note);
      const note = notes.join('; ');
      rows.push(makeCaseRow(suite, c.name, REFERENCE_BACKEND, threads, res.ms[c.name]!, res.peak_rss_mb[c.name] ?? null, note));
      log(`${c.name} pytorch: ${res.ms[c.name]!.toFixed(1)} ms, ${note}`);
    } catch (err) {
      log(`${c.name} torch failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return rows;
}

/** A Python string literal (JSON strings are valid Python strings). */
export const py = (v: unknown): string => JSON.stringify(typeof v === 'string' ? v : JSON.stringify(v));
