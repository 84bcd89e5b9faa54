// Where `samples` and `vbench` get their videos: @opensora-ts/pipeline's createSampler ('demo', the
// default: the bundled demo model, or official weights with --weights; the generation of
// opensora-sample), a module given with --sampler exporting `createSampler(options, suite)` (or a
// default export of that shape) that returns a VideoSampler (`suite`: the prompts it will be asked
// for, with their ground-truth plans), or the built-in 'ground-truth' sampler that renders the
// shapes-world generator's own clips.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { groundTruthSampler, type ShapesPrompt, type VideoSampler } from '@opensora-ts/eval';

export interface SamplerSettings {
  /** Unset: the sampler's own default (the demo model's training size; ground truth 144x256, 33 frames at 8 fps). */
  height?: number;
  width?: number;
  numFrames?: number;
  fps?: number;
  /** Official-format weights folder for the 'demo' (sample app) sampler. */
  weights?: string;
  /** A JSON file of sample settings (as opensora-sample --config) for the 'demo' sampler. */
  sampleConfig?: string;
}

/** The settings object of a --sample-config file: plain settings or an earlier sample's sidecar. */
function readSampleConfig(path: string): Record<string, unknown> {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`--sample-config ${path}: ${(err as Error).message}; expected a JSON object of sample settings (cfg_scale, num_sampling_steps, ...).`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error(`--sample-config ${path}: expected a JSON object of sample settings, got ${JSON.stringify(raw).slice(0, 40)}.`);
  const o = raw as Record<string, unknown>;
  return o.kind === 'opensora-sample' && typeof o.settings === 'object' && o.settings !== null ? (o.settings as Record<string, unknown>) : o;
}

type Factory = (o: SamplerSettings, suite: ShapesPrompt[]) => VideoSampler | Promise<VideoSampler>;

export async function loadSampler(spec: string | undefined, settings: SamplerSettings, suite: ShapesPrompt[]): Promise<VideoSampler> {
  if (!spec || spec === 'demo') {
    const { createSampler } = await import('@opensora-ts/pipeline');
    const { weights, sampleConfig, ...size } = settings;
    const base = sampleConfig ? readSampleConfig(sampleConfig) : {};
    return createSampler({ ...size, settings: { ...base, ...(weights ? { weights } : {}) } });
  }
  if (settings.sampleConfig) throw new Error(`--sample-config: only the 'demo' sampler takes sample-app settings, not --sampler ${spec}.`);
  if (spec === 'ground-truth') return groundTruthSampler(suite);
  const path = resolve(spec);
  if (!existsSync(path)) throw new Error(`--sampler ${spec}: file not found (${path}).`);
  const mod = (await import(pathToFileURL(path).href)) as { createSampler?: Factory; default?: Factory };
  const factory = mod.createSampler ?? mod.default;
  if (typeof factory !== 'function') throw new Error(`--sampler ${spec}: the module exports no createSampler function (nor a default export).`);
  const s = await factory(settings, suite);
  if (typeof s !== 'function') throw new Error(`--sampler ${spec}: createSampler did not return a function (prompt, seed) => Promise<video>.`);
  return s;
}
