// The interface between the evaluation and whatever generates videos: a function of a prompt and
// a seed. The sample app, a remote service or (in tests) the shapes-world renderer all fit.
import { planShapesClip, renderShapesClip, type ShapesClip, type ShapesWorldOptions } from '@opensora-ts/data';
import type { Video } from './frames.js';

export type VideoSampler = (prompt: string, seed: number) => Promise<Video>;

export interface ShapesPrompt {
  prompt: string;
  /** The generator's plan behind the prompt (ground truth). */
  clip: ShapesClip;
}

/** Seed offset that keeps the held-out suite away from the clips a training set draws (indices from 0). */
export const HELD_OUT_INDEX_OFFSET = 1_000_000;

/**
 * Held-out shapes-world prompts: clips planned by the data package's generator at indices far past
 * any training set's, with their captions as prompts.
 */
export function shapesPromptSuite(n: number, opts: Partial<ShapesWorldOptions> = {}): ShapesPrompt[] {
  const o: ShapesWorldOptions = { numClips: n, seed: 7, ...opts };
  const out: ShapesPrompt[] = [];
  for (let i = 0; i < n; i++) {
    const clip = planShapesClip(HELD_OUT_INDEX_OFFSET + i, o);
    out.push({ prompt: clip.caption, clip });
  }
  return out;
}

/** A "sampler" that renders the ground truth of known prompts: adherence must then be ~1. */
export function groundTruthSampler(suite: ShapesPrompt[]): VideoSampler {
  const byPrompt = new Map(suite.map((s) => [s.prompt, s.clip]));
  return async (prompt) => {
    const clip = byPrompt.get(prompt);
    if (!clip) throw new Error(`groundTruthSampler: '${prompt}' is not in the suite it was built from.`);
    const r = renderShapesClip(clip);
    return { data: r.frames, numFrames: clip.numFrames, height: clip.height, width: clip.width, fps: clip.fps };
  };
}
