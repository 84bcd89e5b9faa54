// Parity runners of this package, keyed by fixture `kind` (shared/fixtures/opensora13).
import type { ParityCase, ParityOutput, ParityRunner } from '@opensora-ts/kernels';
import { preparePrompt } from './prepare-prompt.js';
import { mergeCameraMotion, score2text, type ScoreInput } from './templates.js';
import { textPreprocessing } from './clean-caption.js';

interface InferenceEntry {
  prompt: string;
  aes: ScoreInput;
  flow: ScoreInput;
  camera_motion: string | null;
  after_scores: string[];
  final: string;
}
interface TrainingEntry {
  text: string;
  aes: number | null;
  flow: number | null;
  cmotion: string | null;
  score2text: string;
  with_camera_motion: string;
  cleaned: string;
}

const captions: ParityRunner = async (c: ParityCase): Promise<ParityOutput> => {
  const data = c.data as { inference?: InferenceEntry[]; training?: TrainingEntry[] } | undefined;
  if (!data || (!data.inference && !data.training)) {
    throw new Error(`${c.dir}: captions case needs a data file with 'inference' and/or 'training' lists.`);
  }
  const exact: NonNullable<ParityOutput['exact']> = [];
  (data.inference ?? []).forEach((e, i) => {
    const got = preparePrompt(e.prompt, { aes: e.aes, flow: e.flow, cameraMotion: e.camera_motion });
    exact.push({ name: `inference.${i}.after_scores`, got: got.afterScores, expected: e.after_scores });
    exact.push({ name: `inference.${i}.final`, got: got.final, expected: e.final });
  });
  (data.training ?? []).forEach((e, i) => {
    // The fixture disables the random drop of score phrases.
    const s2t = score2text(e.text, e.aes, e.flow, { dropProb: 0 });
    const withCm = mergeCameraMotion(s2t, e.cmotion);
    exact.push({ name: `training.${i}.score2text`, got: s2t, expected: e.score2text });
    exact.push({ name: `training.${i}.with_camera_motion`, got: withCm, expected: e.with_camera_motion });
    exact.push({ name: `training.${i}.cleaned`, got: textPreprocessing(withCm), expected: e.cleaned });
  });
  return { exact };
};

export const parityRunners: Record<string, ParityRunner> = { captions };
