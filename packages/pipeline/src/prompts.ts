// Prompts as the inference script takes them: from flags or a file (one per line), each optionally
// followed by a JSON object {"reference_path": "a.png;b.mp4", "mask_strategy": "..."}; then, per
// prompt, the reference's text order: split loop segments -> refine -> scores -> clean -> merge.
import { readFileSync } from 'node:fs';
import { mergePrompt, preparePrompt, promptForLoop, refinePromptDetailed, splitPrompt, textPreprocessing, type RefineOptions } from '@opensora-ts/conditioning';

export interface PromptItem {
  /** The prompt as given, without its JSON suffix. */
  text: string;
  /** Reference files of this prompt (its JSON "reference_path", split on ';'). */
  referencePaths: string[];
  /** Its JSON "mask_strategy" (t2v extension), or ''. */
  maskStrategy: string;
  /** True when the references came from --image/--video (reference_path) rather than the prompt's JSON. */
  referenceFromFlag?: boolean;
}

/** Reads a prompt file: one prompt per line, blank lines skipped. */
export function readPromptFile(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`--prompt-path ${path}: cannot read it (${(err as Error).message}).`);
  }
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '');
  if (lines.length === 0) throw new Error(`--prompt-path ${path}: no prompts (one per line expected).`);
  return lines;
}

/** Splits a trailing JSON object off a prompt line. */
export function parsePromptLine(line: string): PromptItem {
  const start = line.indexOf('{');
  if (start >= 0 && line.trimEnd().endsWith('}')) {
    try {
      const extra = JSON.parse(line.slice(start)) as Record<string, unknown>;
      if (extra && typeof extra === 'object' && !Array.isArray(extra)) {
        for (const k of Object.keys(extra)) {
          if (k !== 'reference_path' && k !== 'mask_strategy') throw new Error(`prompt ${JSON.stringify(line)}: unknown JSON key '${k}'; expected reference_path or mask_strategy.`);
        }
        const refs = typeof extra.reference_path === 'string' ? extra.reference_path.split(';').map((s) => s.trim()).filter(Boolean) : [];
        return { text: line.slice(0, start).trim(), referencePaths: refs, maskStrategy: typeof extra.mask_strategy === 'string' ? extra.mask_strategy : '' };
      }
    } catch (err) {
      if ((err as Error).message.includes('unknown JSON key')) throw err;
      // Not JSON: braces are part of the text.
    }
  }
  return { text: line.trim(), referencePaths: [], maskStrategy: '' };
}

export interface PromptTextOptions {
  aes: number | string | null;
  flow: number | string | null;
  cameraMotion: string | null;
  refine?: RefineOptions;
}

export interface PreparedPromptText {
  /** The text after refinement (loop segments merged back), before scores and cleaning. */
  refined: string;
  /** What the text encoder receives, with loop segments. */
  final: string;
  /** The encoder's text for each clip (loop). */
  perLoop: string[];
  /** True when the prompt's own words (scores aside) clean to nothing: the encoder then sees no description. */
  emptyAfterCleaning: boolean;
}

/** Refines (optionally), adds score phrases and cleans one prompt; resolves each loop's text. */
export async function preparePromptText(text: string, loops: number, o: PromptTextOptions): Promise<PreparedPromptText> {
  const { texts, loopIndices } = splitPrompt(text);
  let refinedTexts = texts;
  if (o.refine) {
    refinedTexts = [];
    for (const t of texts) refinedTexts.push((await refinePromptDetailed(t, o.refine)).prompt);
  }
  const refined = mergePrompt(refinedTexts, loopIndices);
  const { final } = preparePrompt(refined, { aes: o.aes, flow: o.flow, cameraMotion: o.cameraMotion });
  const emptyAfterCleaning = refinedTexts.some((t) => textPreprocessing(t) === '');
  return { refined, final, perLoop: Array.from({ length: loops }, (_, i) => promptForLoop(final, i)), emptyAfterCleaning };
}
