import { initRuntime, tf } from '@opensora-ts/kernels';
import { demoModelPaths } from '@opensora-ts/demo-model';
import { ChunkedVideoCodec, createVae, loadVaeWeights } from '@opensora-ts/vae';
import { groundTruthSampler, newResults, psnrPerFrame, scoreShapesSamples, shapesPromptSuite, writeReport,
  type EvalResults, type VideoSampler } from '@opensora-ts/eval';

await initRuntime();
const suite = shapesPromptSuite(8, { height: 64, width: 64, numFrames: 17 }); // held-out shapes-world prompts + clips
const truth = groundTruthSampler(suite);                      // a VideoSampler: (prompt, seed) => the clip it names
const demo = demoModelPaths();
const vae = createVae(demo.manifest);
loadVaeWeights(vae, demo.vae);
const codec = new ChunkedVideoCodec(vae);
// Any generator plugs in as a VideoSampler; this one round-trips the ground truth through the demo VAE.
const roundTrip: VideoSampler = async (prompt, seed) => {
  const v = await truth(prompt, seed);                        // uint8 frames, T x H x W x 3
  const x = tf.tidy(() => tf.tensor5d(Float32Array.from(v.data), [1, v.numFrames, v.height, v.width, 3]).div(127.5).sub(1).transpose<tf.Tensor5D>([0, 4, 1, 2, 3]));
  const y = codec.decode(codec.encode(x, { seed: 0 }));       // [1, 3, T, H, W] in [-1, 1]
  const data = Float32Array.from(tf.tidy(() => y.transpose([0, 2, 3, 4, 1]).add(1).div(2).clipByValue(0, 1)).dataSync());
  tf.dispose([x, y]);
  return { ...v, data };                                      // float frames are on [0, 1]
};
const psnr: number[] = [];
for (const { prompt } of suite) psnr.push(...psnrPerFrame(await truth(prompt, 0), await roundTrip(prompt, 0)));
console.log(`demo VAE PSNR over ${suite.length} clips: ${(psnr.reduce((a, b) => a + b) / psnr.length).toFixed(1)} dB`);
const runs: EvalResults[] = [];
for (const [name, sampler] of Object.entries({ 'ground-truth': truth, 'demo-vae-round-trip': roundTrip })) {
  const samples = await scoreShapesSamples(suite.map((s) => s.prompt), sampler); // colour, direction, camera
  console.log(name, samples.color_accuracy, samples.direction_accuracy, samples.camera_accuracy);
  runs.push({ ...newResults(name), samples });
}
await writeReport(runs, 'report/');                           // report/report.md: the runs side by side
