// Writes a demo model folder (vae.safetensors, stdit.safetensors, model.json) from modules or
// state dicts: float16 storage (half the size; compute stays float32), files written to a
// temporary name and renamed by writeSafetensors, the manifest last so a folder with a
// manifest is complete.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tf, writeSafetensors, type WritableTensor } from '@opensora-ts/kernels';
import { demoManifestSchema, type DemoManifestInput } from './manifest.js';
import { demoModelPaths } from './paths.js';

export type StateDictSource = { stateDict(): Map<string, tf.Tensor> } | Map<string, tf.Tensor>;

export interface WriteDemoModelOptions {
  /** Storage dtype (default F16). */
  dtype?: 'F16' | 'F32';
}

function toWritable(src: StateDictSource, dtype: 'F16' | 'F32'): Map<string, WritableTensor> {
  const sd = src instanceof Map ? src : src.stateDict();
  const out = new Map<string, WritableTensor>();
  for (const [k, t] of sd) {
    const data = Float32Array.from(t.dataSync());
    out.set(k, { shape: [...t.shape], data, dtype });
  }
  if (!(src instanceof Map)) for (const t of sd.values()) t.dispose();
  return out;
}

/** Writes the three files into `dir` (default: this package's weights/ folder). */
export function writeDemoModel(vae: StateDictSource, stdit: StateDictSource, manifest: DemoManifestInput, dir?: string, options: WriteDemoModelOptions = {}): string {
  const paths = demoModelPaths(dir);
  const dtype = options.dtype ?? 'F16';
  const checked = demoManifestSchema.parse(manifest);
  mkdirSync(paths.dir, { recursive: true });
  writeSafetensors(paths.vae, toWritable(vae, dtype), { format: 'pt', status: checked.status });
  writeSafetensors(paths.stdit, toWritable(stdit, dtype), { format: 'pt', status: checked.status });
  const tmp = join(paths.dir, `.model.json.${process.pid}.tmp`);
  writeFileSync(tmp, `${JSON.stringify(checked, null, 2)}\n`);
  renameSync(tmp, paths.manifest);
  return paths.dir;
}
