// A --sampler module for `opensora-eval samples`: each prompt's shapes-world ground truth, through a
// demo model's VAE (encode at the posterior mode, decode). Its scores are the VAE's ceiling on the
// adherence suite, what a perfect DiT would reach with this VAE, which tells a VAE limit from a DiT one:
//   pnpm eval samples --sampler apps/eval/src/vae-roundtrip-sampler.ts --height 64 --width 64 --num-frames 17 [--weights DEMO_MODEL_DIR]
// The clips are drawn on a background like the demo's training set (near-flat grey): the suite's
// default textured backgrounds are outside what the demo VAE was trained on.
import { loadDemoModel } from '@opensora-ts/demo-model';
import { renderShapesClip, toUint8 } from '@opensora-ts/data';
import type { ShapesPrompt, VideoSampler } from '@opensora-ts/eval';
import { tf } from '@opensora-ts/kernels';
import { ChunkedVideoCodec } from '@opensora-ts/vae';
import type { SamplerSettings } from './load-sampler.js';

/** Grey 105 and texture amplitude 3: the middle of configs/train/demo*.json's background ranges. */
export const DEMO_BACKGROUND = { grey: 105, amplitude: 3 } as const;

export function createSampler(o: SamplerSettings, suite: ShapesPrompt[]): VideoSampler & { dispose(): void } {
  const byPrompt = new Map(suite.map((s) => [s.prompt, s.clip]));
  const demo = loadDemoModel(o.weights);
  const codec = new ChunkedVideoCodec(demo.vae);
  const sampler = async (prompt: string) => {
    const plan = byPrompt.get(prompt);
    if (!plan) throw new Error(`vae-roundtrip sampler: '${prompt}' is not in the suite it was built from.`);
    const g = DEMO_BACKGROUND.grey;
    const clip = { ...plan, background: { ...plan.background, base: [g, g, g] as [number, number, number], amplitude: DEMO_BACKGROUND.amplitude } };
    const { numFrames: T, height: H, width: W } = clip;
    const frames = renderShapesClip(clip).frames;
    const out = tf.tidy(() => {
      const x = tf.tensor(Float32Array.from(frames, (v) => v / 127.5 - 1), [1, T, H, W, 3]).transpose([0, 4, 1, 2, 3]) as tf.Tensor5D;
      const z = codec.encode(x, { samplePosterior: false });
      return codec.decode(z).slice([0, 0, 0, 0, 0], [-1, -1, T, -1, -1]).transpose([0, 2, 3, 4, 1]);
    });
    // Quantised as the sample app saves its videos, so the ceiling compares like with like.
    const data = toUint8(await out.data());
    out.dispose();
    return { data, numFrames: T, height: H, width: W, fps: clip.fps, channels: 3 };
  };
  return Object.assign(sampler, { dispose: () => demo.dispose() });
}
