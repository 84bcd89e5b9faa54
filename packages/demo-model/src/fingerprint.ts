// The demo DiT was trained on the demo text encoder's features, which are drawn from a seed by the
// conditioning package. If that code changes, the same seed gives other features and a trained DiT
// silently stops following prompts. A probe of a fixed prompt's embedding, stored at export and
// compared (with a tolerance: backends differ in the last bits) at run time, catches it.
import { DEMO_T5_CONFIG, type TextEncoder } from '@opensora-ts/conditioning';

export const FINGERPRINT_PROMPT = 'a red circle moves to the left.';
const TOKENS = 4;
const CHANNELS = 8;

/**
 * FINGERPRINT_PROMPT's states, first 4 tokens: the first 8 channels of each encoder's part (the plain
 * encoder's 64 channels, then the word-order encoder's when present), 32 values per part.
 */
export async function textEncoderFingerprint(encoder: TextEncoder): Promise<number[]> {
  const { states, mask } = await encoder.encode([FINGERPRINT_PROMPT]);
  const data = (await states.data()) as Float32Array;
  const dim = states.shape[3]!;
  states.dispose();
  mask.dispose();
  const out: number[] = [];
  const part = Math.min(DEMO_T5_CONFIG.d_model, dim);
  for (let start = 0; start < dim; start += part) {
    for (let t = 0; t < TOKENS; t++) for (let c = start; c < start + Math.min(CHANNELS, part); c++) out.push(Number(data[t * dim + c]!.toFixed(6)));
  }
  return out;
}

/** True when two fingerprints agree to 1e-3 (relative to 1 or the value). */
export function sameFingerprint(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => Math.abs(v - b[i]!) <= 1e-3 * Math.max(1, Math.abs(v)));
}
