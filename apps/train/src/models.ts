// Builds the networks a config names: the STDiT3 (preset + keys, sized by the text encoder and
// the VAE as the reference does, initial weights official or ours, adapt_16ch), the frozen VAE and
// the frozen text encoder.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { loadTextEncoder, type TextEncoder } from '@opensora-ts/conditioning';
import { formatLoadReport } from '@opensora-ts/kernels';
import { loadSTDiT3Weights, STDiT3, stdit3Preset } from '@opensora-ts/stdit';
import { createVae, loadVaeWeights, type OpenSoraVAE, type VaeConfigInput } from '@opensora-ts/vae';
import type { DitTrainConfig, TrainConfig } from './config.js';
import { listCheckpoints, STATE_FILE } from './checkpoint.js';
import { withSeededMathRandom } from './seeded-init.js';

/** What marks a checkpoint folder written by the reference's training scripts. */
const REFERENCE_STATE_FILE = 'running_states.json';

type VaeModelConfig = TrainConfig['model'] & { type: string; from_pretrained: string | null };

/**
 * A weights path from a path that may be one of our checkpoint folders (then its EMA, as stages hand
 * on), or a checkpoint folder of the reference's own training (epochN-global_stepM, with
 * running_states.json: its ema.pt, or its `preferred`/ or model/ shards). Anything else, a weights
 * file or folder as published (.safetensors, .pt, .bin, shards), is passed on as it is.
 */
export function weightsPath(path: string, preferred = 'ema'): string {
  // A run folder (--out of an earlier run) stands for its newest checkpoint.
  if (existsSync(path) && statSync(path).isDirectory() && !existsSync(join(path, STATE_FILE))) {
    const newest = listCheckpoints(join(path, 'checkpoints')).at(-1);
    if (newest) path = newest;
  }
  if (existsSync(path) && statSync(path).isDirectory() && existsSync(join(path, STATE_FILE))) {
    const f = join(path, `${preferred}.safetensors`);
    return existsSync(f) ? f : join(path, 'model.safetensors');
  }
  if (existsSync(path) && statSync(path).isDirectory() && existsSync(join(path, REFERENCE_STATE_FILE))) {
    for (const f of [join(path, `${preferred}.pt`), join(path, preferred), join(path, 'model')]) if (existsSync(f)) return f;
  }
  return path;
}

export function buildVae(m: VaeModelConfig, log: (line: string) => void, what = 'vae', seed = 0): OpenSoraVAE {
  const { type, from_pretrained, ...rest } = m as { type: string; from_pretrained: string | null } & Record<string, unknown>;
  const vae = withSeededMathRandom(seed, () => createVae(type, rest as Partial<VaeConfigInput>));
  if (from_pretrained) {
    const path = weightsPath(from_pretrained);
    loadVaeWeights(vae, path);
    log(`${what}: ${type} weights from ${path}`);
  } else log(`${what}: ${type} with random weights from seed ${seed} (no from_pretrained)`);
  return vae;
}

export function buildTextEncoder(cfg: DitTrainConfig): TextEncoder {
  const te = cfg.text_encoder;
  if (te.type === 'demo') return loadTextEncoder('demo', { maxLength: te.model_max_length, seed: te.seed, wordOrder: te.word_order ?? false });
  if (!te.from_pretrained) throw new Error('text_encoder.from_pretrained: a local T5 folder as published (config.json, spiece.model or tokenizer.json, safetensors or .bin weights) is needed for type "t5"; nothing can be downloaded. Pass --text-encoder DIR, or use type "demo" for the shapes-world encoder.');
  return loadTextEncoder(te.from_pretrained, { maxLength: te.model_max_length });
}

/** The DiT with its initial weights; caption size from the text encoder, channels from the VAE. */
export function buildDit(cfg: DitTrainConfig, text: TextEncoder, zChannels: number, log: (line: string) => void): STDiT3 {
  const { type, from_pretrained, adapt_16ch, use_cond: _u, force_huggingface: _f, ...rest } = cfg.model;
  const config = stdit3Preset(type, { ...rest, in_channels: zChannels, caption_channels: text.dim, model_max_length: text.maxLength });
  const model = new STDiT3(config, { seed: cfg.seed });
  if (from_pretrained) {
    const path = weightsPath(from_pretrained);
    try {
      const report = loadSTDiT3Weights(model, path, { strict: false, adapt_16ch });
      if (report.missing.length || report.unexpected.length) log(`model: partial load (kept initial values for missing keys)\n${formatLoadReport(report, path, '')}`);
      log(`model: ${type} weights from ${path}${adapt_16ch ? ' (adapt_16ch)' : ''}: ${report.loaded} tensors`);
    } catch (err) {
      model.dispose();
      throw err;
    }
  } else log(`model: ${type} from scratch (reference initialisation, seed ${cfg.seed})`);
  model.applyFreezing();
  if (cfg.trainable_params) restrictTrainable(model, cfg.trainable_params, log);
  return model;
}

/** Freezes every parameter whose name matches none of `patterns` (the config's `trainable_params`). */
export function restrictTrainable(model: STDiT3, patterns: string[], log: (line: string) => void): void {
  const regexes = patterns.map((src) => {
    try {
      return new RegExp(src);
    } catch (err) {
      throw new Error(`trainable_params: ${JSON.stringify(src)} is not a regular expression (${(err as Error).message}); give patterns over parameter names such as "^y_embedder\\." or "\\.cross_attn\\.".`);
    }
  });
  const named = [...model.namedParameters()];
  regexes.forEach((re, i) => {
    if (!named.some(([n]) => re.test(n))) {
      throw new Error(`trainable_params: ${JSON.stringify(patterns[i])} matches no DiT parameter; names look like ${named.slice(0, 3).map(([n]) => n).join(', ')}.`);
    }
  });
  let kept = 0;
  for (const [name, p] of named) {
    if (!p.trainable) continue;
    if (regexes.some((re) => re.test(name))) kept++;
    else p.setTrainable(false);
  }
  log(`trainable_params: training ${kept} of ${named.length} parameter tensors; the rest are frozen`);
}
