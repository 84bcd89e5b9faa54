// The sample app as a prompt -> video function, for the eval app's `samples` and `vbench`
// commands: the same models, settings and generation as `opensora-sample`, returning frames in
// memory instead of writing files.
import { generate, sampleJob } from './generate.js';
import { loadModels } from './models.js';
import { parsePromptLine, preparePromptText } from './prompts.js';
import { parseSettings, type SampleSettingsInput } from './settings.js';
import { checkVideoSize } from '@opensora-ts/vae';

export interface VideoSamplerOptions {
  /** Video size; the model's defaults (the demo model: its training size) where not given. */
  height?: number;
  width?: number;
  numFrames?: number;
  fps?: number;
  /** Any other sample settings (weights, num_sampling_steps, cfg_scale, ...), as in a --config file. */
  settings?: SampleSettingsInput;
}

/** uint8 RGB frames, T x H x W x 3 (the eval package's Video). */
export interface SampledVideo {
  data: Uint8Array;
  numFrames: number;
  height: number;
  width: number;
  fps: number;
  channels: 3;
}

export type PromptVideoSampler = ((prompt: string, seed: number) => Promise<SampledVideo>) & { dispose(): void };

/** Loads the models once; each call samples one prompt with the given seed. */
export async function createSampler(o: VideoSamplerOptions = {}): Promise<PromptVideoSampler> {
  const s = parseSettings(o.settings ?? {}, 'sampler settings');
  const models = loadModels({ weights: s.weights, textCache: s.text_cache, textEncoder: s.text_encoder });
  const d = models.defaults;
  const height = o.height ?? d.height;
  const width = o.width ?? d.width;
  const numFrames = o.numFrames ?? d.numFrames;
  const fps = o.fps ?? d.fps;
  checkVideoSize(models.codec, { numFrames, height, width }, { size: 'height x width', frames: 'numFrames' });
  const sampler = async (prompt: string, seed: number): Promise<SampledVideo> => {
    const item = parsePromptLine(prompt);
    const text = await preparePromptText(item.text, s.loop, { aes: s.aes, flow: s.flow, cameraMotion: s.camera_motion });
    const job = sampleJob(s, d, { item, perLoop: text.perLoop, height, width, numFrames, fps, seed, condType: null });
    const v = await generate(models, job);
    return { data: v.frames, numFrames: v.numFrames, height: v.height, width: v.width, fps, channels: 3 };
  };
  return Object.assign(sampler, { dispose: () => models.dispose() });
}
