// Folds a per-channel latent scale into a trained VAE so that its normalized latents (what the DiT
// trains on) have unit standard deviation per channel over the VAE run's own clips. The autoencoder
// itself is unchanged (see scaleLatentChannels). The recipe runs it between the VAE and the DiT:
//   node --conditions=source --import tsx packages/demo-model/scripts/calibrate-vae.ts \
//     --vae-run out/demo-model/vae --out out/demo-model/vae-calibrated.safetensors [--clips 64]
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadSample, readMetadata } from '@opensora-ts/data';
import { initRuntime, tf, writeSafetensors } from '@opensora-ts/kernels';
import { ChunkedVideoCodec, createVae, latentChannelStats, loadVaeWeights, scaleLatentChannels, type VaeConfigInput } from '@opensora-ts/vae';
import { newestCheckpointWeights } from './run-weights.js';

const { values: a } = parseArgs({ options: { 'vae-run': { type: 'string' }, out: { type: 'string' }, clips: { type: 'string', default: '64' } } });
if (!a['vae-run'] || !a.out) throw new Error('usage: calibrate-vae.ts --vae-run DIR (an apps/train VAE run) --out FILE.safetensors [--clips N]');
const run = resolve(a['vae-run']);
const configPath = join(run, 'config.json');
if (!existsSync(configPath)) throw new Error(`${configPath}: not found; --vae-run must be the --out folder of a VAE training run.`);
const cfg = JSON.parse(readFileSync(configPath, 'utf8')) as { model: Record<string, unknown> & { type: string }; dataset: { data_path: string | null; shapes_world?: { num_frames: number } } };
const csv = cfg.dataset.data_path ?? join(run, 'data', 'meta.csv');
if (!existsSync(csv)) throw new Error(`${csv}: the run's metadata CSV is missing; calibrate on the data the VAE was trained on.`);

await initRuntime();
const { type, from_pretrained: _f, ...rest } = cfg.model;
const vae = createVae(type, rest as Partial<VaeConfigInput>); // as the train app builds it
const weights = newestCheckpointWeights(run);
loadVaeWeights(vae, weights);
const codec = new ChunkedVideoCodec(vae);
const rows = (await readMetadata(csv)).rows.slice(0, Number(a.clips));
const frames = cfg.dataset.shapes_world?.num_frames ?? 17;
// Each clip from its first frame (no random crop), so the scale is reproducible.
const batch: tf.Tensor5D[] = [];
for (const r of rows) {
  const s = await loadSample(r.path, { numFrames: Math.min(frames, r.numFrames), height: r.height, width: r.width, totalFrames: r.numFrames, randint: (lo: number) => lo });
  batch.push(tf.tensor(s.data, [1, ...s.shape] as [number, number, number, number, number]) as tf.Tensor5D);
}
const before = latentChannelStats(codec, batch);
const scale = before.std.map((s) => 1 / s);
scaleLatentChannels(vae, scale);
const after = latentChannelStats(codec, batch);
tf.dispose(batch);
const fmt = (xs: number[]) => xs.map((x) => x.toFixed(3)).join(' ');
console.log(`${weights}: ${rows.length} clips of ${frames} frames`);
console.log(`normalized latent std before: ${fmt(before.std)}\n                        after:  ${fmt(after.std)}`);
console.log(`normalized latent mean after: ${fmt(after.mean)}`);
const state = vae.stateDict();
writeSafetensors(resolve(a.out), new Map([...state].map(([k, t]) => [k, { shape: t.shape, data: t.dataSync() as Float32Array }])), { calibrated_from: weights, latent_scale: JSON.stringify(scale) });
tf.dispose([...state.values()]);
vae.dispose();
console.log(`wrote ${resolve(a.out)}`);
