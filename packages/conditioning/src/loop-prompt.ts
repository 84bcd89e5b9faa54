// Loop prompts: "|0|text a|2|text b" gives each generation loop the text of the last segment
// whose index it has reached. Segments are split before refinement, scores and cleaning, and
// joined again afterwards.

export interface SplitPrompt {
  texts: string[];
  /** Loop index of each segment; null for a plain prompt. */
  loopIndices: number[] | null;
}

/** Splits "|0|a|2|b" into texts ["a", "b"] (trimmed) and indices [0, 2]; other prompts stay whole. */
export function splitPrompt(prompt: string): SplitPrompt {
  if (!prompt.startsWith('|0|')) return { texts: [prompt], loopIndices: null };
  const parts = prompt.split('|').slice(1);
  const texts: string[] = [];
  const loopIndices: number[] = [];
  for (let i = 0; i < parts.length; i += 2) {
    const idx = parts[i]!.trim();
    if (!/^[+-]?\d+$/.test(idx)) {
      throw new Error(`loop prompt ${JSON.stringify(prompt)}: segment index ${JSON.stringify(parts[i])} is not an integer; write "|0|first text|2|text from loop 2".`);
    }
    if (i + 1 >= parts.length) {
      throw new Error(`loop prompt ${JSON.stringify(prompt)}: index |${idx}| has no text after it; write "|${idx}|some text".`);
    }
    loopIndices.push(Number(idx));
    texts.push(parts[i + 1]!.trim());
  }
  return { texts, loopIndices };
}

/** Joins segments back: "|0|a|2|b", or the single text of a plain prompt. */
export function mergePrompt(texts: readonly string[], loopIndices: readonly number[] | null): string {
  if (loopIndices === null) return texts[0] ?? '';
  return texts.map((t, i) => `|${loopIndices[i]}|${t}`).join('');
}

/** The text a given loop uses: the last segment whose index is <= loop. */
export function promptForLoop(prompt: string, loop: number): string {
  const { texts, loopIndices } = splitPrompt(prompt);
  if (loopIndices === null) return texts[0]!;
  let out = texts[0]!;
  for (let i = 0; i < texts.length; i++) if (loopIndices[i]! <= loop) out = texts[i]!;
  return out;
}
