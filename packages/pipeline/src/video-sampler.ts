// A prompt -> video function over the pipeline, for the eval app's `samples` and `vbench` commands:
// the same models, settings and generation as `opensora-sample`, returning frames in memory
// instead of writing files.
import { OpenSoraPipeline } from './pipeline.js';
import { generateOptionsOf, parseSettings, type SampleSettingsInput } from './settings.js';

export interface VideoSamplerOptions {
  /** Video size; the model's defaults (the demo model: its training size) where not given. */
  height?: number;
  width?: number;
  numFrames?: number;
  fps?: number;
  /** Any other sample settings (weights, num_sampling_steps, cfg_scale, offload, ...), as in a --config file. */
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
  const pipe = await OpenSoraPipeline.load({ weights: s.weights, textCache: s.text_cache, textEncoder: s.text_encoder, offload: s.offload });
  const size = (() => {
    try {
      return pipe.videoSize({ height: o.height ?? pipe.defaults.height, width: o.width ?? pipe.defaults.width, ...(o.numFrames !== undefined ? { numFrames: o.numFrames } : {}) }, { size: 'height x width', frames: 'numFrames' });
    } catch (err) {
      pipe.dispose();
      throw err;
    }
  })();
  const fps = o.fps ?? pipe.defaults.fps;
  const sampler = async (prompt: string, seed: number): Promise<SampledVideo> => {
    const v = await pipe.generate({ ...generateOptionsOf(s), prompt, seed, height: size.height, width: size.width, numFrames: size.numFrames, fps });
    return { data: v.frames, numFrames: v.numFrames, height: v.height, width: v.width, fps, channels: 3 };
  };
  return Object.assign(sampler, { dispose: () => pipe.dispose() });
}
