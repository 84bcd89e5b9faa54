// The text the inference script hands to T5, in the reference's order: split loop segments ->
// (optional refinement, done by the caller) -> score templates -> cleaning (twice) -> merge.
import { mergePrompt, splitPrompt } from './loop-prompt.js';
import { appendScoreToPrompt, type ScoreOptions } from './templates.js';
import { textPreprocessing } from './clean-caption.js';

export interface PreparedPrompt {
  /** Segments after the score templates, before cleaning. */
  afterScores: string[];
  /** Cleaned and merged: what the text encoder receives. */
  final: string;
}

/** Prepares one prompt for the text encoder; `clean: false` only lowercases and strips. */
export function preparePrompt(prompt: string, opts: ScoreOptions & { clean?: boolean } = {}): PreparedPrompt {
  const { texts, loopIndices } = splitPrompt(prompt);
  const afterScores = texts.map((t) => appendScoreToPrompt(t, opts));
  const cleaned = afterScores.map((t) => textPreprocessing(t, opts.clean ?? true));
  return { afterScores, final: mergePrompt(cleaned, loopIndices) };
}
