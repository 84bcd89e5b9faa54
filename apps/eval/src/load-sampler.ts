// Where `samples` and `vbench` get their videos: the sample app's pipeline ('demo', the default:
// the bundled demo model, or official weights with --weights), a module given with --sampler
// exporting `createSampler(options)` (or a default export of that shape) that returns a
// VideoSampler, or the built-in 'ground-truth' sampler that renders the shapes-world generator's
// own clips.
import { existsSync } from 'node:fs';
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
}

type Factory = (o: SamplerSettings) => VideoSampler | Promise<VideoSampler>;

export async function loadSampler(spec: string | undefined, settings: SamplerSettings, suite: ShapesPrompt[]): Promise<VideoSampler> {
  if (!spec || spec === 'demo') {
    const { createSampler } = await import('@opensora-ts/sample-app/video-sampler');
    const { weights, ...size } = settings;
    return createSampler({ ...size, settings: weights ? { weights } : {} });
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
