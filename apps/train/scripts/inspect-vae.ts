// Looks at a VAE checkpoint while it trains: reconstructs held-out shapes-world clips (indices past
// the training set) through the chunked codec, prints PSNR per clip and writes a PNG strip
// (top: input frames, bottom: reconstruction) so one can see whether the shapes came through.
//   node --conditions=source --import tsx apps/train/scripts/inspect-vae.ts CHECKPOINT_DIR [OUT.png]
import { join } from 'node:path';
import { initRuntime, tf } from '@opensora-ts/kernels';
import { planShapesClip, renderShapesClip, writePng } from '@opensora-ts/data';
import { ChunkedVideoCodec, createVae, loadVaeWeights, psnr } from '@opensora-ts/vae';
import { readFileSync } from 'node:fs';

const [ckpt, out = '/tmp/vae-inspect.png'] = process.argv.slice(2);
if (!ckpt) throw new Error('usage: inspect-vae.ts CHECKPOINT_DIR [OUT.png]');
await initRuntime({ backend: 'native' });
const run = JSON.parse(readFileSync(join(ckpt, '..', '..', 'config.json'), 'utf8')) as { model: Record<string, unknown>; dataset: { num_frames: number; shapes_world: Record<string, unknown> } };
const { type, from_pretrained: _ignored, ...overrides } = run.model;
const vae = createVae(type as string, overrides);
loadVaeWeights(vae, join(ckpt, 'model.safetensors'));
const codec = new ChunkedVideoCodec(vae);
const sw = run.dataset.shapes_world;
const T = 9;
const H = Number(sw.height);
const W = Number(sw.width);
const clips = 4;
const strip = new Uint8Array(2 * H * clips * T * W * 3);
const scores: number[] = [];
for (let c = 0; c < clips; c++) {
  const plan = planShapesClip(100000 + c, {
    numClips: 1, height: H, width: W, numFrames: T, seed: Number(sw.seed ?? 0),
    backgroundAmplitude: sw.background_amplitude as [number, number], backgroundGrey: sw.background_grey as [number, number], backgroundTint: sw.background_tint as number,
  });
  const { frames } = renderShapesClip(plan);
  const x = tf.tidy(() => tf.tensor(Float32Array.from(frames, (v) => v / 127.5 - 1), [1, T, H, W, 3]).transpose([0, 4, 1, 2, 3])) as tf.Tensor5D;
  const z = codec.encode(x, { samplePosterior: false });
  const y = codec.decode(z);
  const rec = tf.tidy(() => y.clipByValue(-1, 1).add(1).mul(127.5).round().transpose([0, 2, 3, 4, 1])).dataSync();
  const recU8 = Uint8Array.from(rec);
  scores.push(psnr(frames, recU8, 255));
  for (let t = 0; t < T; t++) for (let h = 0; h < H; h++) {
    const src = (t * H + h) * W * 3;
    const top = ((c * 2 * H + h) * T * W + t * W) * 3;
    const bottom = ((c * 2 * H + H + h) * T * W + t * W) * 3;
    strip.set(frames.subarray(src, src + W * 3), top);
    strip.set(recU8.subarray(src, src + W * 3), bottom);
  }
  tf.dispose([x, z, y]);
  console.log(`clip ${c} (${plan.caption}): ${scores[c]!.toFixed(2)} dB`);
}
await writePng(out, strip, 2 * H * clips, T * W);
console.log(`mean ${(scores.reduce((a, b) => a + b, 0) / clips).toFixed(2)} dB; strip: ${out}`);
