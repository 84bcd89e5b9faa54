// The sentences that carry scores and camera motion into captions (spec §4.2): the inference
// form (`append_score_to_prompts`) and the training-data form (`score2text`, `merge_cmotion`).
import { aesToText, cameraMotionText, flowToText } from './scores.js';
import { pyFloat } from './python-text.js';
import { SeededRandom } from '@opensora-ts/kernels';

/** A score as a config file (number) or a command line (string) gives it; null/undefined = not given. */
export type ScoreInput = number | string | null | undefined;

export interface ScoreOptions {
  aes?: ScoreInput;
  flow?: ScoreInput;
  cameraMotion?: string | null;
}

/** A number maps through its table; a string that reads as a number too; any other string is used as-is. */
function scoreWord(value: number | string, toText: (v: number) => string): string {
  if (typeof value === 'number') return toText(value);
  const parsed = pyFloat(value);
  return parsed === undefined ? value : toText(parsed);
}

/**
 * Inference templates: appends " The aesthetic score is X.", " The motion strength is Y." and
 * " camera motion: Z." for each option given, unless the prompt already holds that phrase
 * (case-sensitive). No "." is added to the prompt itself.
 */
export function appendScoreToPrompt(prompt: string, opts: ScoreOptions): string {
  let out = prompt;
  if (opts.aes !== undefined && opts.aes !== null && !prompt.includes('aesthetic score is')) {
    out = `${out} The aesthetic score is ${scoreWord(opts.aes, aesToText)}.`;
  }
  if (opts.flow !== undefined && opts.flow !== null && !prompt.includes('motion strength is')) {
    out = `${out} The motion strength is ${scoreWord(opts.flow, flowToText)}.`;
  }
  if (opts.cameraMotion !== undefined && opts.cameraMotion !== null && !prompt.includes('camera motion:')) {
    out = `${out} camera motion: ${opts.cameraMotion}.`;
  }
  return out;
}

/** `append_score_to_prompts` over a list. */
export function appendScoreToPrompts(prompts: readonly string[], opts: ScoreOptions): string[] {
  return prompts.map((p) => appendScoreToPrompt(p, opts));
}

export interface Score2TextOptions {
  /** Probability of dropping each score phrase independently (reference: 0.2). Default 0.2. */
  dropProb?: number;
  /** Seed for the drop draws, or a generator; default seed 0. */
  seed?: number;
  random?: () => number;
}

const missing = (v: number | null | undefined): v is null | undefined => v === null || v === undefined || Number.isNaN(v);

/**
 * Training-caption template: "text." (a "." added when missing), then " the aesthetic score is X."
 * and " the motion strength is Y." for the scores present, each kept with probability 1 - dropProb.
 */
export function score2text(text: string, aes: number | null | undefined, flow: number | null | undefined, opts: Score2TextOptions = {}): string {
  const drop = opts.dropProb ?? 0.2;
  const rng = new SeededRandom(opts.seed ?? 0);
  const rand = opts.random ?? (() => rng.uniform());
  let out = text.endsWith('.') ? text : `${text}.`;
  if (!missing(aes) && rand() >= drop) out += ` the aesthetic score is ${aesToText(aes)}.`;
  if (!missing(flow) && rand() >= drop) out += ` the motion strength is ${flowToText(flow)}.`;
  return out;
}

/** Training-caption camera motion: "caption Camera motion: pan left." for the seven merged labels. */
export function mergeCameraMotion(caption: string, label: string | null | undefined): string {
  if (label === null || label === undefined) return caption;
  const words = cameraMotionText(label);
  return words === undefined ? caption : `${caption} Camera motion: ${words}.`;
}
