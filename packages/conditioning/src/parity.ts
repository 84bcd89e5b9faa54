// Parity runners of this package, keyed by fixture `kind` (shared/fixtures/opensora13).
import { resolve } from 'node:path';
import { tf, type ParityCase, type ParityOutput, type ParityRunner, type ParityTensor } from '@opensora-ts/kernels';
import { T5Encoder } from './t5-encoder.js';
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

interface T5EncoderCall {
  prompts?: unknown;
  max_length?: unknown;
  padding?: unknown;
  truncation?: unknown;
}

/**
 * The reference's T5 path on a published-style folder: tokenizer call (padding to max_length,
 * truncation, special tokens), then every block's input and last_hidden_state. Ids and mask
 * are compared exactly as well as under the case tolerance.
 */
const t5Encoder: ParityRunner = async (c: ParityCase): Promise<ParityOutput> => {
  const call = (c.json.call ?? {}) as T5EncoderCall;
  const modelDir = resolve(c.dir, String((c.json.config as { model_dir?: unknown } | undefined)?.model_dir ?? 'model'));
  if (!Array.isArray(call.prompts) || !call.prompts.every((p) => typeof p === 'string')) {
    throw new Error(`${c.dir}/case.json: call.prompts must be a list of strings.`);
  }
  if (call.truncation === false) throw new Error(`${c.dir}/case.json: call.truncation false is not supported (the reference truncates).`);
  const prompts = call.prompts as string[];
  const encoder = T5Encoder.fromFolder(modelDir, typeof call.max_length === 'number' ? { maxLength: call.max_length } : {});
  try {
    const padding = call.padding ?? 'max_length';
    let length = encoder.maxLength;
    if (padding === 'longest' || padding === true) length = Math.max(...prompts.map((p) => encoder.tokenizer.idsOf(p, encoder.maxLength).length));
    else if (padding !== 'max_length') throw new Error(`${c.dir}/case.json: call.padding '${String(padding)}' is not supported (use 'max_length' or 'longest').`);
    const tok = encoder.tokenizer.batch(prompts, length);
    const shape = [tok.batch, tok.length];
    const tensors = new Map<string, ParityTensor>([
      ['input_ids', { shape, data: tok.ids }],
      ['attention_mask', { shape, data: tok.mask }],
    ]);
    const hidden: tf.Tensor[] = [];
    const ids = tf.tensor2d(tok.ids, [tok.batch, tok.length], 'int32');
    const mask = tf.tensor2d(tok.mask, [tok.batch, tok.length], 'int32');
    const last = encoder.forward(ids, mask, hidden);
    for (const [i, h] of hidden.entries()) tensors.set(`hidden_states.${i}`, { shape: h.shape, data: h.dataSync() });
    tensors.set('last_hidden_state', { shape: last.shape, data: last.dataSync() });
    tf.dispose([ids, mask, last, ...hidden]);
    const exact: NonNullable<ParityOutput['exact']> = [];
    for (const name of ['input_ids', 'attention_mask']) {
      const expected = c.expected.get(name);
      if (expected) exact.push({ name: `${name} (exact)`, got: Array.from(tensors.get(name)!.data), expected: Array.from(expected.data) });
    }
    return { tensors, exact };
  } finally {
    encoder.dispose();
  }
};

export const parityRunners: Record<string, ParityRunner> = { captions, t5_encoder: t5Encoder };
