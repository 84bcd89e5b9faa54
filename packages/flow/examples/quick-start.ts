import { initRuntime, tf } from '@opensora-ts/kernels';
import { RFlowSampler, type AsyncModelFn } from '@opensora-ts/flow';

await initRuntime();
// The model is any (x, t, cond) => output whose first C channels are the velocity; STDiT3 gives one with
// stdit3FlowModelFn(model) (@opensora-ts/stdit). A stand-in here: a velocity that pulls every latent to zero.
const model: AsyncModelFn = (x) => tf.concat([tf.neg(x), tf.zerosLike(x)], 1);
const sampler = new RFlowSampler({ numSamplingSteps: 10 });     // 1.3 defaults otherwise: cfg 7.5, shift, osc, flaw fix
const z = await sampler.sample(model, {
  text: { y: tf.randomNormal([1, 1, 8, 16]), yNull: tf.zeros([1, 1, 8, 16]) },   // encoded prompt + null caption [B,1,L,C]
  meta: { height: 64, width: 64, numFrames: 17, fps: 8 },      // the video's size, as the model is told it
  shape: [1, 16, 5, 8, 8], rng: 1024,                           // or z: initialNoise
  onProgress: ({ step, total }) => console.log(`${step}/${total}`),
  signal: AbortSignal.timeout(60_000),                          // checked between steps
});
console.log(z.shape, z.abs().mean().dataSync()[0]);             // [1, 16, 5, 8, 8], the noise pulled towards 0
