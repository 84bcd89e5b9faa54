// Sampling a prompt suite through a `VideoSampler` and scoring every video: the shapes-world
// adherence checks, and optionally the weight-free generation metrics.
import { join } from 'node:path';
import type { ProcessGroup } from '@opensora-ts/kernels';
import { checkShapesAdherence, summarizeAdherence, type AdherenceOptions } from './adherence.js';
import type { Video } from './frames.js';
import { dynamicDegreeEstimate, motionSmoothnessEstimate, temporalFlickering } from './generation-metrics.js';
import type { SampleScore, SamplesResults, SeedSummary } from './results.js';
import type { VideoSampler } from './sampler.js';
import { runSharded } from './sharded.js';

export interface ScoreSamplesOptions extends AdherenceOptions {
  suite?: string;
  /** Seed of the i-th prompt's sample is seed + i. */
  seed?: number;
  /**
   * Score the suite once per seed (the i-th prompt at seed s + i), instead of once at `seed`: one run
   * of a few dozen prompts moves by several prompts with the seed. The accuracies pool all videos
   * (the mean over seeds); `per_seed` has each run's.
   */
  seeds?: readonly number[];
  /** Also compute temporal flickering and the motion-smoothness / dynamic-degree estimates. */
  generationMetrics?: boolean;
  /** Keep each video: called with a file name `sample_{k}.mp4` (k the item number) inside `saveDir`. */
  saveDir?: string;
  write?: (path: string, video: Video) => Promise<void>;
  /** Called after each of this rank's videos (`total` is this rank's share). */
  onProgress?: (done: number, total: number, prompt: string) => void;
  /** Split the videos over the ranks of this group; default one process samples all. */
  group?: ProcessGroup;
  /** Item k's stored row (a resumed run), or undefined to sample it. */
  done?: (index: number) => SampleScore | undefined;
  /** Called with each new row (e.g. to store it for a resume). */
  onDone?: (index: number, row: SampleScore) => void;
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : undefined);

const correctOf = (r: SampleScore) => ({ correct: { color: r.color, direction: r.direction, camera: r.camera } });

/**
 * Samples each prompt once per seed and scores it; returns the summary with per-video rows.
 * Item k is prompt k mod P at the (k div P)-th seed; with `group` the items are split over the
 * ranks (each video sampled, scored and saved once, by its owner) and every rank returns the
 * merged results, the same as one process's.
 */
export async function scoreShapesSamples(prompts: readonly string[], sampler: VideoSampler, o: ScoreSamplesOptions = {}): Promise<SamplesResults> {
  if (o.seeds !== undefined && (o.seeds.length === 0 || o.seeds.some((s) => !Number.isInteger(s)))) {
    throw new Error(`seeds: expected one or more integers, got [${o.seeds.join(', ')}].`);
  }
  const seeds = o.seeds ?? [o.seed ?? 42];
  const P = prompts.length;
  const total = P * seeds.length;
  /** Samples, checks and (when asked) saves item k. */
  const scoreOne = async (k: number): Promise<SampleScore> => {
    const prompt = prompts[k % P]!;
    const seed = seeds[Math.floor(k / P)]! + (k % P);
    const video = await sampler(prompt, seed);
    const r = checkShapesAdherence(video, prompt, o);
    const row: SampleScore = {
      prompt,
      seed,
      color: r.correct.color,
      direction: r.correct.direction,
      camera: r.correct.camera,
      detected: { color: r.detected.color, direction: r.detected.direction, camera: r.detected.camera },
    };
    // The motion shows how far a wrong direction was from right (a "still" shape drifting 0.1 px/frame or 2).
    if (r.detected.motion) row.detected.motion = { dx: round3(r.detected.motion.dx), dy: round3(r.detected.motion.dy) };
    if (o.generationMetrics) {
      if (video.numFrames >= 2) row.temporal_flickering = temporalFlickering(video);
      if (video.numFrames >= 3) row.motion_smoothness_estimate = motionSmoothnessEstimate(video);
      row.dynamic_degree_estimate = dynamicDegreeEstimate(video).dynamic;
    }
    if (o.saveDir && o.write) {
      row.file = join(o.saveDir, `sample_${String(k).padStart(4, '0')}.mp4`);
      await o.write(row.file, video);
    }
    return row;
  };
  const rows = await runSharded(total, scoreOne, {
    ...(o.group ? { group: o.group } : {}),
    ...(o.done ? { done: o.done } : {}),
    ...(o.onDone ? { onDone: o.onDone } : {}),
    onProgress: (d, t, k) => o.onProgress?.(d, t, prompts[k % P]!),
  });
  const perSeed: SeedSummary[] = seeds.map((first, s) => {
    const sum = summarizeAdherence(rows.slice(s * P, (s + 1) * P).map(correctOf));
    return { seed: first, color_accuracy: sum.color_accuracy, direction_accuracy: sum.direction_accuracy, camera_accuracy: sum.camera_accuracy };
  });
  const out: SamplesResults = { suite: o.suite ?? 'shapes', ...summarizeAdherence(rows.map(correctOf)), ...(seeds.length > 1 ? { per_seed: perSeed } : {}), videos: rows };
  if (o.generationMetrics) {
    const tf = mean(rows.flatMap((r) => (r.temporal_flickering === undefined ? [] : [r.temporal_flickering])));
    const ms = mean(rows.flatMap((r) => (r.motion_smoothness_estimate === undefined ? [] : [r.motion_smoothness_estimate])));
    const dd = mean(rows.flatMap((r) => (r.dynamic_degree_estimate === undefined ? [] : [r.dynamic_degree_estimate ? 1 : 0])));
    if (tf !== undefined) out.temporal_flickering = tf;
    if (ms !== undefined) out.motion_smoothness_estimate = ms;
    if (dd !== undefined) out.dynamic_degree_estimate = dd;
  }
  return out;
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;
