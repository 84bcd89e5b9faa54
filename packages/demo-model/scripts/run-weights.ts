// The weights file an apps/train run folder stands for (its newest checkpoint's EMA, else model
// weights), or a weights file as is. The package cannot import the train app, hence this copy of
// its rule.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export function newestCheckpointWeights(path: string): string {
  if (!existsSync(path)) throw new Error(`${path}: not found; expected an apps/train run folder or a .safetensors file.`);
  if (statSync(path).isFile()) return path;
  const ck = join(path, 'checkpoints');
  const dirs = existsSync(ck) ? readdirSync(ck).filter((d) => d.startsWith('step-')).sort() : [];
  const dir = dirs.length ? join(ck, dirs[dirs.length - 1]!) : path;
  for (const f of ['ema.safetensors', 'model.safetensors']) if (existsSync(join(dir, f))) return join(dir, f);
  throw new Error(`${path}: no checkpoint (checkpoints/step-*/ema.safetensors) found.`);
}
