// The layout of a --weights folder: the official Open-Sora 1.3 checkpoints as Hugging Face ships
// them, each in its own subfolder (our short name or the HF repository name), plus the text side
// as a T5 folder or a folder of cached embeddings. A missing piece is named with what goes there.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface WeightsLayout {
  root: string;
  /** The VAE checkpoint file (model.safetensors). */
  vae: string;
  /** The VAE folder's config.json when present. */
  vaeConfig: string | null;
  /** The STDiT file or index (model.safetensors or model.safetensors.index.json). */
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
  '  t5/                              DeepFloyd/t5-v1_1-xxl: config.json, tokenizer.json, model.safetensors[.index.json]',
  '  text-embeddings/                 or: cached prompt embeddings (EmbeddingCache files) instead of t5/',
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

/** Finds every file of a --weights folder or throws naming the first missing one. */
export function resolveWeightsFolder(root: string): WeightsLayout {
  if (!isDir(root)) throw new Error(`--weights ${root}: not a folder.\n${WEIGHTS_LAYOUT_HELP}`);
  const vaeDir = pickDir(root, VAE_DIRS);
  const vae = vaeDir ? join(vaeDir, 'model.safetensors') : null;
  if (!vae || !existsSync(vae)) throw missing(root, `${vaeDir ? join(vaeDir, 'model.safetensors') : join(root, 'vae', 'model.safetensors')} (the VAE checkpoint)`);
  const stditDir = pickDir(root, STDIT_DIRS);
  let stdit: string | null = null;
  if (stditDir) {
    for (const f of ['model.safetensors', 'model.safetensors.index.json']) if (existsSync(join(stditDir, f))) stdit = join(stditDir, f);
  }
  if (!stdit) throw missing(root, `${join(stditDir ?? join(root, 'stdit'), 'model.safetensors')} (the STDiT3 checkpoint)`);
  const t5 = pickDir(root, T5_DIRS);
  const embeddings = pickDir(root, EMB_DIRS);
  if (t5) {
    for (const f of ['config.json', 'tokenizer.json']) if (!existsSync(join(t5, f))) throw missing(root, `${join(t5, f)} (part of the T5 folder)`);
    if (!existsSync(join(t5, 'model.safetensors')) && !existsSync(join(t5, 'model.safetensors.index.json'))) {
      throw missing(root, `${join(t5, 'model.safetensors')} (the T5 encoder weights, or model.safetensors.index.json with shards)`);
    }
  } else if (!embeddings) {
    throw missing(root, `${join(root, 't5')} (a T5 folder) or ${join(root, 'text-embeddings')} (cached prompt embeddings)`);
  }
  const cfg = (dir: string) => (existsSync(join(dir, 'config.json')) ? join(dir, 'config.json') : null);
  return { root, vae, vaeConfig: cfg(vaeDir!), stdit, stditConfig: cfg(stditDir!), t5, embeddings };
}
