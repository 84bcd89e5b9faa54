// Exports trained apps/train runs into a demo model folder (default: this package's weights/):
// the DiT run's newest checkpoint (EMA weights) and the VAE it was trained with, float16 storage,
// and a manifest with the configs exactly as training built the models plus the run's record
// (steps, losses, time). Usage:
//   node --conditions=source --import tsx packages/demo-model/scripts/export.ts \
//     --dit-run out/demo-dit [--vae-run out/demo-vae] [--vae-weights FILE_OR_RUN] [--out packages/demo-model/weights] [--recipe "pnpm train ..."]
// --cfg-scale / --steps set the model's default guidance and sampling steps (else the DiT config's, or 7.5 / 30).
// A DiT run whose model.from_pretrained is an earlier run folder (the demo's stage 2) records that run as dit_init;
// one that started from an earlier export's stdit.safetensors (the demo's stage 8) records that export's DiT record.
// --vae-weights overrides the VAE weights (a file, or a run folder: its newest checkpoint), e.g. the
// calibrated VAE or a decoder-only fine-tune of it; --vae-run still names the run whose record is kept.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { initRuntime } from '@opensora-ts/kernels';
import { loadSTDiT3, stdit3Preset } from '@opensora-ts/stdit';
import { createVae, loadVaeWeights, VAE_PRESETS, type VaeConfigInput } from '@opensora-ts/vae';
import { demoTextEncoder } from '../src/load.js';
import { writeDemoModel } from '../src/write.js';
import { newestCheckpointWeights } from './run-weights.js';
import { textEncoderFingerprint } from '../src/fingerprint.js';

const { values: a } = parseArgs({ options: { 'dit-run': { type: 'string' }, 'vae-run': { type: 'string' }, 'vae-weights': { type: 'string' }, out: { type: 'string' }, recipe: { type: 'string', multiple: true }, 'cfg-scale': { type: 'string' }, steps: { type: 'string' } } });
if (!a['dit-run']) throw new Error('--dit-run DIR (an apps/train output folder of the demo DiT) is required.');

const readJson = (p: string) => JSON.parse(readFileSync(p, 'utf8')) as Record<string, any>;

/** `seconds`: time spent in training steps (evals and checkpoints excluded). */
interface RunRecord { steps: number; final_train_loss: number | null; final_eval_loss: number | null; seconds: number; samples_per_sec: number | null }

function runRecord(dir: string): RunRecord {
  const lines = readFileSync(join(dir, 'log.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, any>);
  const steps = lines.filter((l) => l.type === 'step');
  const evals = lines.filter((l) => l.type === 'eval');
  const tail = steps.slice(-50);
  const mean = (xs: number[]) => (xs.length ? xs.reduce((s, x) => s + x, 0) / xs.length : null);
  return {
    steps: steps.length ? steps[steps.length - 1]!.step : 0,
    final_train_loss: mean(tail.map((l) => l.loss)),
    final_eval_loss: evals.length ? evals[evals.length - 1]!.loss : null,
    // Time in training steps, summed over the log: a resumed run's config.json is rewritten, so its
    // mtime would count only the part after the last resume.
    seconds: Math.round(steps.reduce((t, l) => t + (l.samples_per_sec > 0 ? l.samples / l.samples_per_sec : 0), 0)),
    samples_per_sec: mean(tail.map((l) => l.samples_per_sec)),
  };
}

/** 'mode' when the VAE was trained as a plain autoencoder (its run's latent_sample), else the reference's 'sample'. */
function vaeRunPosterior(): 'sample' | 'mode' {
  const runConfig = a['vae-run'] ? join(resolve(a['vae-run']), 'config.json') : null;
  return runConfig && existsSync(runConfig) && readJson(runConfig).latent_sample === 'mode' ? 'mode' : 'sample';
}

/** `{ data: { run, shapes_world } }` when `dataPath` is the meta.csv an earlier train run generated, else {}. */
function shapesWorldOrigin(dataPath: unknown): { data?: { run: string; shapes_world: unknown } } {
  if (typeof dataPath !== 'string') return {};
  const run = dirname(dirname(resolve(dataPath)));
  const runConfig = join(run, 'config.json');
  const sw = existsSync(runConfig) ? readJson(runConfig).dataset?.shapes_world : null;
  return sw ? { data: { run, shapes_world: sw } } : {};
}

await initRuntime();
const ditRun = resolve(a['dit-run']);
const cfg = readJson(join(ditRun, 'config.json'));
const { type: ditType, from_pretrained: ditInit, adapt_16ch: _a, use_cond: _u, force_huggingface: _h, ...ditRest } = cfg.model;
const te = cfg.text_encoder;
if (te.type !== 'demo') throw new Error(`${ditRun}/config.json: text_encoder.type is '${te.type}'; the demo model uses the built-in 'demo' encoder.`);
const { type: vaeType, from_pretrained: vaeFrom, ...vaeRest } = cfg.vae;
const vaeConfig: VaeConfigInput = { ...VAE_PRESETS[vaeType], ...vaeRest };
const vae = createVae(vaeConfig);
const vaePath = a['vae-weights'] ? newestCheckpointWeights(resolve(a['vae-weights'])) : a['vae-run'] ? newestCheckpointWeights(resolve(a['vae-run'])) : vaeFrom ? newestCheckpointWeights(vaeFrom) : null;
if (!vaePath) throw new Error('the DiT run has no vae.from_pretrained; pass --vae-run DIR (the VAE training run).');
loadVaeWeights(vae, vaePath);
// The encoder the DiT was trained with, as the manifest records it; its width (doubled by the word-order
// channels) is the DiT's caption_channels.
const textEncoderBlock = { type: 'demo' as const, seed: te.seed ?? 1234, model_max_length: te.model_max_length, word_order: te.word_order ?? false };
const textEncoder = demoTextEncoder({ text_encoder: textEncoderBlock });
const stditConfig = stdit3Preset(ditType, { ...ditRest, in_channels: vae.zChannels, caption_channels: textEncoder.dim, model_max_length: te.model_max_length });
const ditPath = newestCheckpointWeights(ditRun);
const stdit = loadSTDiT3(ditPath, { config: stditConfig });

/** The manifest of the export a weights file belongs to (its folder's model.json), read before this export may overwrite it. */
function exportManifest(weights: unknown): Record<string, any> | undefined {
  if (typeof weights !== 'string') return undefined;
  const manifest = join(dirname(resolve(weights)), 'model.json');
  return existsSync(manifest) ? readJson(manifest) : undefined;
}
const initExport = exportManifest(ditInit)?.provenance?.dit as Record<string, unknown> | undefined;
// A VAE taken as is from an earlier export keeps that export's VAE records and posterior.
const vaeExport = !a['vae-run'] ? exportManifest(vaePath) : undefined;

const ds = cfg.dataset;
const sw = ds.shapes_world ?? {};
const bucket = cfg.bucket_config ? Object.entries(cfg.bucket_config as Record<string, Record<string, unknown>>)[0] : null;
const numFrames = ds.num_frames ?? (bucket ? Number(Object.keys(bucket[1])[0]) : sw.num_frames);
const [height, width] = ds.image_size ?? [sw.height, sw.width];
const dir = writeDemoModel(vae, stdit, {
  status: 'trained',
  vae: vaeConfig as Record<string, unknown>,
  stdit: stditConfig as Record<string, unknown>,
  text_encoder: { ...textEncoderBlock, fingerprint: await textEncoderFingerprint(textEncoder) },
  vae_posterior: vaeExport?.vae_posterior ?? vaeRunPosterior(),
  sampling: { height, width, num_frames: numFrames, fps: sw.fps ?? 8, num_sampling_steps: a.steps ? Number(a.steps) : (cfg.scheduler?.num_sampling_steps ?? 30), cfg_scale: a['cfg-scale'] ? Number(a['cfg-scale']) : (cfg.scheduler?.cfg_scale ?? 7.5),
    // Sampled as trained: with the resolution/length timestep shift only if training used it.
    use_timestep_transform: cfg.scheduler?.use_timestep_transform ?? true },
  provenance: {
    recipe: a.recipe ?? [],
    dit: { run: ditRun, weights: ditPath, config: cfg, ...runRecord(ditRun) },
    // Clips read from an earlier run's generated set (dataset.data_path = RUN/data/meta.csv): the shapes-world
    // settings that made them, so a check can draw held-out pictures like the ones the DiT saw.
    ...shapesWorldOrigin(ds.data_path),
    // A DiT stage that started from an earlier run (model.from_pretrained = its folder): that run's record too.
    ...(typeof ditInit === 'string' && existsSync(join(ditInit, 'log.jsonl')) ? { dit_init: { run: resolve(ditInit), config: readJson(join(ditInit, 'config.json')), ...runRecord(ditInit) } } : {}),
    // Or from an earlier export (model.from_pretrained = its stdit.safetensors): the DiT record of that export.
    ...(initExport ? { dit_init: { from_export: resolve(ditInit as string), ...initExport } } : {}),
    vae: vaeExport?.provenance?.vae ? { ...vaeExport.provenance.vae, from_export: vaePath } : { weights: vaePath, ...(a['vae-run'] && existsSync(join(resolve(a['vae-run']), 'log.jsonl')) ? runRecord(resolve(a['vae-run'])) : {}) },
    ...(vaeExport?.provenance?.vae_decoder ? { vae_decoder: vaeExport.provenance.vae_decoder } : {}),
    // A decoder-only fine-tune (freeze_encoder) run given as --vae-weights: its record too.
    ...(a['vae-weights'] && existsSync(join(resolve(a['vae-weights']), 'log.jsonl')) ? { vae_decoder: runRecord(resolve(a['vae-weights'])) } : {}),
    exported: new Date().toISOString(),
  },
}, a.out ? resolve(a.out) : undefined);
vae.dispose();
stdit.dispose();
textEncoder.dispose();
console.log(`exported the demo model to ${dir}`);
