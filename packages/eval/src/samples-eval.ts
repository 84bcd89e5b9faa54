// Sampling a prompt suite through a `VideoSampler` and scoring every video: the shapes-world
// adherence checks, and optionally the weight-free generation metrics.
import { join } from 'node:path';
import { checkShapesAdherence, summarizeAdherence, type AdherenceOptions, type AdherenceResult } from './adherence.js';
import type { Video } from './frames.js';
import { dynamicDegreeEstimate, motionSmoothnessEstimate, temporalFlickering } from './generation-metrics.js';
import type { SampleScore, SamplesResults, SeedSummary } from './results.js';
import type { VideoSampler } from './sampler.js';

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
  /** Keep each video: called with a file name `sample_{i}.mp4` inside `saveDir`. */
  saveDir?: string;
  write?: (path: string, video: Video) => Promise<void>;
  onProgress?: (done: number, total: number, prompt: string) => void;
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : undefined);

/** Samples each prompt once per seed and scores it; returns the summary with per-video rows. */
export async function scoreShapesSamples(prompts: readonly string[], sampler: VideoSampler, o: ScoreSamplesOptions = {}): Promise<SamplesResults> {
  if (o.seeds !== undefined && (o.seeds.length === 0 || o.seeds.some((s) => !Number.isInteger(s)))) {
    throw new Error(`seeds: expected one or more integers, got [${o.seeds.join(', ')}].`);
  }
  const seeds = o.seeds ?? [o.seed ?? 42];
  const rows: SampleScore[] = [];
  const results: AdherenceResult[] = [];
  const perSeed: SeedSummary[] = [];
  const total = prompts.length * seeds.length;
  /** Samples and checks one video and appends its row. */
  const scoreOne = async (prompt: string, seed: number): Promise<AdherenceResult> => {
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
      row.file = join(o.saveDir, `sample_${String(rows.length).padStart(4, '0')}.mp4`);
      await o.write(row.file, video);
    }
    rows.push(row);
    return r;
  };
  for (const first of seeds) {
    const run: AdherenceResult[] = [];
    for (let i = 0; i < prompts.length; i++) {
      const r = await scoreOne(prompts[i]!, first + i);
      run.push(r);
      results.push(r);
      o.onProgress?.(rows.length, total, prompts[i]!);
    }
    const s = summarizeAdherence(run);
    perSeed.push({ seed: first, color_accuracy: s.color_accuracy, direction_accuracy: s.direction_accuracy, camera_accuracy: s.camera_accuracy });
  }
  const out: SamplesResults = { suite: o.suite ?? 'shapes', ...summarizeAdherence(results), ...(seeds.length > 1 ? { per_seed: perSeed } : {}), videos: rows };
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
