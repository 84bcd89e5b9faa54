// Test helper: the files of a tiny `opensora-eval loss` run (a random tiny STDiT3 checkpoint
// folder, a tiny VAE with its config as a model.json, a shapes-world CSV, an eval config).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tf, writeSafetensors, type WritableTensor } from '@opensora-ts/kernels';
import { writeShapesWorld } from '@opensora-ts/data';
import { STDiT3, stdit3Preset } from '@opensora-ts/stdit';
import { createVae, TINY_VAE } from '@opensora-ts/vae';

export interface TinyEvalRun {
  ckpt: string;
  vae: string;
  vaeConfig: string;
  csv: string;
  evalConfig: string;
  /** The eval config as written. */
  evalCfg: { bucket_config: Record<string, Record<string, [number, number]>>; num_eval_timesteps: number; seed: number };
  /** The VAE's state dict (to build the same codec in a test). */
  vaeState: Map<string, tf.Tensor>;
  /** `opensora-eval loss` arguments for these files. */
  lossArgs: string[];
}

function save(path: string, sd: Map<string, tf.Tensor>): void {
  const out = new Map<string, WritableTensor>();
  for (const [k, t] of sd) out.set(k, { shape: t.shape, data: t.dataSync() as Float32Array });
  writeSafetensors(path, out);
}

export async function writeTinyEvalRun(dir: string, o: { numClips?: number; batchSize?: number } = {}): Promise<TinyEvalRun> {
  const ckpt = join(dir, 'ckpt');
  mkdirSync(ckpt, { recursive: true });
  const cfg = stdit3Preset('STDiT3-tiny', { caption_channels: 64 });
  const model = new STDiT3(cfg, { seed: 3 });
  save(join(ckpt, 'model.safetensors'), model.stateDict());
  writeFileSync(join(ckpt, 'config.json'), JSON.stringify(cfg));
  const vae = createVae('tiny');
  save(join(dir, 'vae.safetensors'), vae.stateDict());
  // The VAE's config as a JSON file (how a non-preset VAE is given), here in the demo model's model.json form.
  writeFileSync(join(dir, 'vae.json'), JSON.stringify({ status: 'trained', vae: TINY_VAE, stdit: cfg }));
  const { csvPath } = await writeShapesWorld(join(dir, 'set'), { numClips: o.numClips ?? 2, height: 144, width: 256, numFrames: 6, seed: 5 });
  const evalCfg = { bucket_config: { '144p': { '5': [1.0, o.batchSize ?? 2] as [number, number] } }, num_eval_timesteps: 3, seed: 42 };
  writeFileSync(join(dir, 'eval.json'), JSON.stringify(evalCfg));
  const run = { ckpt, vae: join(dir, 'vae.safetensors'), vaeConfig: join(dir, 'vae.json'), csv: csvPath, evalConfig: join(dir, 'eval.json') };
  return {
    ...run,
    evalCfg,
    vaeState: vae.stateDict(),
    lossArgs: ['loss', '--ckpt', run.ckpt, '--data', run.csv, '--config', run.evalConfig, '--vae', run.vae, '--vae-config', run.vaeConfig],
  };
}
