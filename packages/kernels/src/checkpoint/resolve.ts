// From what a user passes (a weights file, a sharded index, a Hugging Face folder) to the list of
// files to open. Every shard an index names must exist before anything is opened or read.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { CheckpointError } from './errors.js';

export interface CheckpointShards {
  /** The files to open, in the index's order (one for a plain file). */
  files: string[];
  /** The index.json the files came from, if any. */
  index?: string;
  /** The index's weight_map (key -> file path), if any. */
  weightMap?: Map<string, string>;
}

/** Folder contents looked for, in order: safetensors first (no pickle), then torch.save files. */
export const CHECKPOINT_FOLDER_FILES = ['model.safetensors.index.json', 'model.safetensors', 'pytorch_model.bin.index.json', 'pytorch_model.bin'] as const;

const WEIGHT_EXTENSIONS = /\.(safetensors|bin|pt|pth|ckpt)$/;

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function readIndex(path: string): CheckpointShards {
  let index: { weight_map?: unknown };
  try {
    index = JSON.parse(readFileSync(path, 'utf8')) as { weight_map?: unknown };
  } catch (err) {
    throw new CheckpointError(`${path}: not valid JSON (${(err as Error).message}); an index is {"metadata": {...}, "weight_map": {key: shard file}}.`);
  }
  const map = index.weight_map;
  if (!map || typeof map !== 'object' || Array.isArray(map)) throw new CheckpointError(`${path}: missing 'weight_map' (expected {key: shard file}).`);
  const weightMap = new Map<string, string>();
  const files: string[] = [];
  for (const [key, shard] of Object.entries(map as Record<string, unknown>)) {
    if (typeof shard !== 'string' || !shard) throw new CheckpointError(`${path}: weight_map['${key}'] is ${JSON.stringify(shard)}, not a shard file name.`);
    const file = join(dirname(path), shard);
    if (!files.includes(file)) files.push(file);
    weightMap.set(key, file);
  }
  if (files.length === 0) throw new CheckpointError(`${path}: weight_map is empty; the index names no shard.`);
  const missing = files.filter((f) => !existsSync(f));
  if (missing.length) {
    throw new CheckpointError(
      `${path}: shard${missing.length > 1 ? 's' : ''} ${missing.map((f) => `'${basename(f)}'`).join(', ')} named in weight_map ${missing.length > 1 ? 'are' : 'is'} missing ` +
        `(looked in ${dirname(path)}); download or copy every shard the index lists next to it. Nothing was read.`,
    );
  }
  return { files, index: path, weightMap };
}

/**
 * Resolves a checkpoint path: a weights file (.safetensors, .bin, .pt, .pth), an `*.index.json`
 * (safetensors or pytorch_model.bin shards), or a folder holding model.safetensors[.index.json]
 * or pytorch_model.bin[.index.json] (safetensors preferred when both are there).
 */
export function checkpointShards(path: string): CheckpointShards {
  if (!existsSync(path)) {
    throw new CheckpointError(`${path}: file not found; pass a .safetensors, .bin, .pt or .pth file, an *.index.json, or a folder holding model.safetensors or pytorch_model.bin.`);
  }
  if (isDirectory(path)) {
    for (const name of CHECKPOINT_FOLDER_FILES) {
      const p = join(path, name);
      if (existsSync(p)) return checkpointShards(p);
    }
    const candidates = readdirSync(path).filter((f) => WEIGHT_EXTENSIONS.test(f) || f.endsWith('.index.json'));
    throw new CheckpointError(
      `${path}: folder holds none of ${CHECKPOINT_FOLDER_FILES.join(', ')}` +
        (candidates.length ? `; it has ${candidates.slice(0, 5).join(', ')}${candidates.length > 5 ? ', ...' : ''}: pass one of those files.` : '.'),
    );
  }
  if (path.endsWith('.index.json')) return readIndex(path);
  return { files: [path] };
}
