// The layout of a --weights folder: the official Open-Sora 1.3 checkpoints as Hugging Face ships
// them, each in its own subfolder (our short name or the HF repository name), plus the text side
// as a T5 folder or a folder of cached embeddings. A missing piece is named with what goes there.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { checkpointShards } from '@opensora-ts/kernels';

export interface WeightsLayout {
  root: string;
  /** The VAE checkpoint: a weights file or a sharded index. */
  vae: string;
  /** The VAE folder's config.json when present. */
  vaeConfig: string | null;
  /** The STDiT checkpoint: a weights file or a sharded index. */
  stdit: string;
  stditConfig: string | null;
  /** A Hugging Face T5 folder, or null when only cached embeddings are given. */
  t5: string | null;
  /** A folder of cached text embeddings (EmbeddingCache files), or null. */
  embeddings: string | null;
}

const VAE_DIRS = ['vae', 'OpenSora-VAE-v1.3'];
const STDIT_DIRS = ['stdit', 'OpenSora-STDiT-v4'];
const T5_DIRS = ['t5', 't5-v1_1-xxl'];
const EMB_DIRS = ['text-embeddings'];

export const WEIGHTS_LAYOUT_HELP = [
  'Expected layout of --weights FOLDER:',
  '  vae/model.safetensors            OpenSora-VAE-v1.3 (hpcai-tech/OpenSora-VAE-v1.3), optional vae/config.json',
  '  stdit/model.safetensors          OpenSora-STDiT-v4 (hpcai-tech/OpenSora-STDiT-v4; or its .index.json + shards), optional stdit/config.json',
  '  t5/                              DeepFloyd/t5-v1_1-xxl as published: config.json, spiece.model (or tokenizer.json),',
  '                                   model.safetensors[.index.json] or pytorch_model.bin[.index.json] (+ shards)',
  '  text-embeddings/                 or: cached prompt embeddings (EmbeddingCache files) instead of t5/ (or pass --text-encoder DIR)',
  '(vae/ and stdit/ may hold pytorch_model.bin[.index.json] and its shards instead of model.safetensors)',
  '(the subfolders may also carry the Hugging Face repository names: OpenSora-VAE-v1.3, OpenSora-STDiT-v4, t5-v1_1-xxl)',
].join('\n');

const isDir = (p: string) => existsSync(p) && statSync(p).isDirectory();

function pickDir(root: string, names: string[]): string | null {
  for (const n of names) if (isDir(join(root, n))) return join(root, n);
  return null;
}

function missing(root: string, what: string): Error {
  return new Error(`--weights ${root}: missing ${what}.\n${WEIGHTS_LAYOUT_HELP}`);
}

/** The checkpoint a model subfolder holds (safetensors or torch.save, one file or shards), or why there is none. */
function folderCheckpoint(dir: string | null): { path: string } | { path: null; why: string } {
  if (!dir) return { path: null, why: '' };
  try {
    const found = checkpointShards(dir);
    return { path: found.index ?? found.files[0]! };
  } catch (err) {
    return { path: null, why: ` (${(err as Error).message})` };
  }
}

export interface ResolveWeightsOptions {
  /** A text encoder is given apart (--text-encoder): neither t5/ nor text-embeddings/ is needed. */
  textEncoder?: boolean;
}

/** Finds every file of a --weights folder or throws naming the first missing one. */
export function resolveWeightsFolder(root: string, options: ResolveWeightsOptions = {}): WeightsLayout {
  if (!isDir(root)) throw new Error(`--weights ${root}: not a folder.\n${WEIGHTS_LAYOUT_HELP}`);
  const vaeDir = pickDir(root, VAE_DIRS);
  const vae = folderCheckpoint(vaeDir);
  if (vae.path === null) throw missing(root, `${join(vaeDir ?? join(root, 'vae'), 'model.safetensors')} (the VAE checkpoint)${vae.why}`);
  const stditDir = pickDir(root, STDIT_DIRS);
  const stdit = folderCheckpoint(stditDir);
  if (stdit.path === null) throw missing(root, `${join(stditDir ?? join(root, 'stdit'), 'model.safetensors')} (the STDiT3 checkpoint)${stdit.why}`);
  const t5 = pickDir(root, T5_DIRS);
  const embeddings = pickDir(root, EMB_DIRS);
  if (options.textEncoder) {
    // --text-encoder replaces whatever text side the folder has.
  } else if (t5) {
    if (!existsSync(join(t5, 'config.json'))) throw missing(root, `${join(t5, 'config.json')} (part of the T5 folder)`);
    if (!existsSync(join(t5, 'spiece.model')) && !existsSync(join(t5, 'tokenizer.json'))) throw missing(root, `${join(t5, 'spiece.model')} or tokenizer.json (the T5 tokenizer)`);
    const weights = folderCheckpoint(t5);
    if (weights.path === null) throw missing(root, `${join(t5, 'model.safetensors')} (the T5 encoder weights: model.safetensors[.index.json] or pytorch_model.bin[.index.json] with its shards)${weights.why}`);
  } else if (!embeddings) {
    throw missing(root, `${join(root, 't5')} (a T5 folder) or ${join(root, 'text-embeddings')} (cached prompt embeddings), or pass --text-encoder DIR`);
  }
  const cfg = (dir: string) => (existsSync(join(dir, 'config.json')) ? join(dir, 'config.json') : null);
  return { root, vae: vae.path, vaeConfig: cfg(vaeDir!), stdit: stdit.path, stditConfig: cfg(stditDir!), t5: options.textEncoder ? null : t5, embeddings: options.textEncoder ? null : embeddings };
}
