// The results file every command writes and `report` reads: one JSON object per run, each section
// present when that evaluation ran.
import { existsSync, readFileSync } from 'node:fs';
import { writeFileAtomic } from '@opensora-ts/kernels';
import type { AdherenceSummary } from './adherence.js';
import type { EvalLossReport } from './eval-loss.js';
import type { ReconstructionMetrics } from './vae-metrics.js';

export const RESULTS_FORMAT = 'opensora-eval/1';

export interface SampleScore {
  prompt: string;
  seed: number;
  file?: string;
  color: boolean | null;
  direction: boolean | null;
  camera: boolean;
  /** `motion`: velocity of the tracked colour's centroid, px/frame (x right, y down), rounded to 0.001. */
  detected: { color: string | null; direction: string | null; camera: string; motion?: { dx: number; dy: number } };
  temporal_flickering?: number;
  motion_smoothness_estimate?: number;
  dynamic_degree_estimate?: boolean;
}

/** One seed's run of a suite scored at several seeds. */
export interface SeedSummary {
  seed: number;
  color_accuracy: number;
  direction_accuracy: number;
  camera_accuracy: number;
}

export interface SamplesResults extends AdherenceSummary {
  suite: string;
  /** Scored at several seeds: each seed's run (the accuracies above pool all of them). */
  per_seed?: SeedSummary[];
  /** Means over the videos of the weight-free generation metrics. */
  temporal_flickering?: number;
  motion_smoothness_estimate?: number;
  dynamic_degree_estimate?: number;
  videos: SampleScore[];
}

export interface EvalResults {
  format: typeof RESULTS_FORMAT;
  /** Label of the run in reports (a checkpoint name). */
  name: string;
  created: string;
  loss?: EvalLossReport;
  vae?: ReconstructionMetrics;
  samples?: SamplesResults;
}

export function newResults(name: string): EvalResults {
  return { format: RESULTS_FORMAT, name, created: new Date().toISOString() };
}

/** Reads a results file, checking it is one. */
export function readResults(path: string): EvalResults {
  if (!existsSync(path)) throw new Error(`${path}: results file not found (write one with opensora-eval loss|vae|samples --out FILE).`);
  let j: unknown;
  try {
    j = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`${path}: not valid JSON (${(e as Error).message}).`);
  }
  const r = j as Partial<EvalResults>;
  if (r.format !== RESULTS_FORMAT) throw new Error(`${path}: 'format' is ${JSON.stringify(r.format)}, expected '${RESULTS_FORMAT}'; is this an opensora-eval results file?`);
  if (typeof r.name !== 'string') throw new Error(`${path}: missing 'name'.`);
  return r as EvalResults;
}

/** Writes results atomically (temporary name, then rename); merges into an existing file of the same run. */
export function writeResults(path: string, r: EvalResults, merge = true): EvalResults {
  let out = r;
  if (merge && existsSync(path)) {
    try {
      const old = readResults(path);
      out = { ...old, ...Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined)), format: RESULTS_FORMAT } as EvalResults;
    } catch {
      out = r;
    }
  }
  writeFileAtomic(path, `${JSON.stringify(out, null, 2)}\n`);
  return out;
}
