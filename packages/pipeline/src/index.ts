export { createSampler } from './video-sampler.js';
export type { VideoSamplerOptions, SampledVideo, PromptVideoSampler } from './video-sampler.js';
