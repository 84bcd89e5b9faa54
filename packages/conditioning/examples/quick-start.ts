import { initRuntime } from '@opensora-ts/kernels';
import { preparePrompt, T5Encoder, DemoTextEncoder, EmbeddingCache, refinePrompt } from '@opensora-ts/conditioning';

await initRuntime();
// With no server at the URL this warns and keeps the prompt as given.
const raw = await refinePrompt('a cat sleeps on a sofa', { url: 'http://127.0.0.1:8080/v1', model: 'qwen2.5', onWarning: console.warn });
const { final } = preparePrompt(raw, { aes: 6.5, flow: 4, cameraMotion: 'pan left' });
// final: "a cat sleeps on a sofa the aesthetic score is excellent. the motion strength is fair. camera motion: pan left."
const encoder = process.env.T5_DIR
  ? T5Encoder.fromFolder(process.env.T5_DIR, { layerByLayer: 'auto' }) // DeepFloyd/t5-v1_1-xxl as published, fp32
  : new DemoTextEncoder({ maxLength: 300 });
const { states, mask } = await new EmbeddingCache('.cache/text', encoder).encode([final]);
console.log(final, states.shape, mask.shape); // [1, 1, 300, 64] (T5-XXL: 4096 channels), [1, 300]
