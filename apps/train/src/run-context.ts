// What every training run shares: its output folder (config, log, plot, checkpoints), messages,
// the per-micro-step random seeds that make a resumed run draw what the uninterrupted one drew,
// and the stop on a non-finite loss.
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describeStaleTemps, lockFolder, mixSeed, removeStaleTemps, writeFileAtomic } from '@opensora-ts/kernels';
import { JsonlLog } from './jsonl-log.js';
import { movingAverage, writeLossPlot, type PlotPoint } from './loss-plot.js';
import type { Progress } from './progress.js';

export interface RunPaths {
  out: string;
  checkpoints: string;
  log: string;
  plot: string;
  config: string;
}

export function runPaths(outDir: string): RunPaths {
  const out = resolve(outDir);
  return { out, checkpoints: join(out, 'checkpoints'), log: join(out, 'log.jsonl'), plot: join(out, 'loss.png'), config: join(out, 'config.json') };
}

export function prepareRunFolder(paths: RunPaths, config: unknown): void {
  mkdirSync(paths.checkpoints, { recursive: true });
  writeFileAtomic(paths.config, JSON.stringify(config, null, 2) + '\n');
}

/**
 * Runs `fn` holding the run folder's lock (`OUT/.lock`: PID and host), so a second trainer on the
 * same folder refuses to start, naming the PID; a lock left by a killed trainer is taken over with a
 * line. Temporary files of killed runs in the folder and its checkpoints/ are removed first.
 */
export async function withRunFolder<T>(outDir: string, say: (line: string) => void, fn: () => Promise<T>): Promise<T> {
  const out = resolve(outDir);
  const lock = lockFolder(out, { hint: 'stop that trainer first, or choose another --out.', onTakeOver: say });
  try {
    for (const dir of [out, join(out, 'checkpoints')]) {
      const line = describeStaleTemps(removeStaleTemps(dir));
      if (line) say(line);
    }
    return await fn();
  } finally {
    lock.release();
  }
}

/** Random streams of a micro-step: every draw of micro-step m depends on (seed, m, stream) only. */
export const STREAM = { flow: 1, model: 2, noisyRef: 3, vaeMix: 4, vaePosterior: 5 } as const;

export function microSeed(seed: number, microStep: number, stream: number): number {
  return mixSeed(seed, microStep, stream);
}

export class NonFiniteLossError extends Error {
  override name = 'NonFiniteLossError';
  constructor(
    readonly step: number,
    readonly value: number,
    readonly sampleIds: string[],
    readonly lastCheckpoint: string | null,
    /** The run's learning rate and grad_clip, for the advice (flags the user can pass). */
    readonly settings?: { lr: number; gradClip: number | null },
  ) {
    const lr = settings ? ` --set lr=${Number((settings.lr / 2).toPrecision(3))} (half of ${settings.lr})` : ' a lower lr (--set lr=...)';
    const clip = settings && settings.gradClip === null ? ' --set grad_clip=1.0 (clipping is off)' : settings ? '' : ' or gradient clipping (--set grad_clip=1.0)';
    super(
      `loss is ${value} at step ${step}; batch samples: ${sampleIds.join(', ')}. ` +
        (lastCheckpoint
          ? `Last good checkpoint: ${lastCheckpoint}. To go on, resume from it with a smaller step: --resume ${lastCheckpoint}${lr}${clip}.`
          : `No checkpoint was written yet: start again with${lr}${clip}.`) +
        ' If it stops on the same samples again, check those files and remove their rows from the metadata CSV.',
    );
  }
}

/** Redraws the loss plot from the log: per-step loss, its moving average, and eval loss when present. */
export async function refreshPlot(paths: RunPaths, log: JsonlLog, title: string, progress?: Progress): Promise<void> {
  const recs = log.read();
  const steps = recs.filter((r) => r.type === 'step' && typeof r.loss === 'number');
  if (steps.length === 0) return;
  const points: PlotPoint[] = steps.map((r) => ({ step: r.step!, value: r.loss as number, series: 'loss' }));
  const window = Math.max(1, Math.round(steps.length / 20));
  if (window > 1) movingAverage(steps.map((r) => r.loss as number), window).forEach((v, i) => points.push({ step: steps[i]!.step!, value: v, series: `loss (mean of ${window})` }));
  for (const r of recs) if (r.type === 'eval' && typeof r.loss === 'number') points.push({ step: r.step!, value: r.loss, series: 'eval loss' });
  try {
    await writeLossPlot(paths.plot, points, { title });
  } catch (err) {
    progress?.log(`loss plot not written: ${(err as Error).message}`);
  }
}

/** Where a run stands: counters restored from a checkpoint's state, or zero for a fresh run. */
export interface RunPosition {
  step: number;
  microStep: number;
  samplesSeen: number;
  lastCheckpoint: string | null;
  lastSavedStep: number;
}

/**
 * Positions the run and its log: on resume, drops log lines past the checkpoint's step (they will
 * be written again) and records the resume; on a fresh start, empties the log and writes `start`.
 */
export function startOrResume(
  log: JsonlLog,
  say: (line: string) => void,
  resumed: { dir: string; state: { step: number; microStep: number; samplesSeen: number } } | null,
  start: Record<string, unknown>,
): RunPosition {
  if (resumed) {
    const { step, microStep, samplesSeen } = resumed.state;
    log.truncateAfter(step);
    log.write({ type: 'resume', step, checkpoint: resumed.dir });
    say(`resumed from ${resumed.dir} at step ${step}`);
    return { step, microStep, samplesSeen, lastCheckpoint: resumed.dir, lastSavedStep: step };
  }
  log.truncateAfter(-1);
  log.write({ type: 'start', step: 0, ...start });
  return { step: 0, microStep: 0, samplesSeen: 0, lastCheckpoint: null, lastSavedStep: -1 };
}
