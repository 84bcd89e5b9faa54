// Where `samples` and `vbench` get their videos: a module given with --sampler exporting
// `createSampler(options)` (or a default export of that shape) that returns a VideoSampler, or
// the built-in 'ground-truth' sampler that renders the shapes-world generator's own clips.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { groundTruthSampler, type ShapesPrompt, type VideoSampler } from '@opensora-ts/eval';

export interface SamplerSettings {
  height: number;
  width: number;
  numFrames: number;
  fps: number;
}

type Factory = (o: SamplerSettings) => VideoSampler | Promise<VideoSampler>;

export async function loadSampler(spec: string | undefined, settings: SamplerSettings, suite: ShapesPrompt[]): Promise<VideoSampler> {
  if (!spec) {
    throw new Error(
      "no sampler: pass --sampler MODULE (a .ts/.js file exporting createSampler({height, width, numFrames, fps}) => (prompt, seed) => Promise<video>), or --sampler ground-truth to check the metrics on the generator's own clips.",
    );
  }
  if (spec === 'ground-truth') return groundTruthSampler(suite);
  const path = resolve(spec);
  if (!existsSync(path)) throw new Error(`--sampler ${spec}: file not found (${path}).`);
  const mod = (await import(pathToFileURL(path).href)) as { createSampler?: Factory; default?: Factory };
  const factory = mod.createSampler ?? mod.default;
  if (typeof factory !== 'function') throw new Error(`--sampler ${spec}: the module exports no createSampler function (nor a default export).`);
  const s = await factory(settings);
  if (typeof s !== 'function') throw new Error(`--sampler ${spec}: createSampler did not return a function (prompt, seed) => Promise<video>.`);
  return s;
}
