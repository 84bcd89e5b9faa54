// Does a DiT know which of two shapes takes which direction? Renders held-out shapes-world clips of
// two differently coloured shapes moving opposite ways and compares the flow loss with the true
// caption against the same caption with its direction words swapped (same noise, same t). A DiT
// that ties each colour to its own direction is lower with the true caption in most clips at high
// noise; the bundled stage 8 is not (see the demo model card), though it is for one shape (--shapes 1). Takes a DiT training config with a
// shapes_world block (its model, VAE and text encoder blocks, from_pretrained set) and runs in about
// half a minute:
//   node --conditions=source --import tsx apps/train/scripts/binding-probe.ts --config configs/train/demo_stage4.json \
//     --set model.from_pretrained=packages/demo-model/weights/stdit.safetensors --set vae.from_pretrained=packages/demo-model/weights/vae.safetensors
import { parseArgs } from 'node:util';
import { initRuntime, SeededRandom, tf } from '@opensora-ts/kernels';
import { planShapesClip, renderShapesClip, type ShapesClip } from '@opensora-ts/data';
import { trainingLoss } from '@opensora-ts/flow';
import { loadSTDiT3Weights, stdit3FlowModelFn } from '@opensora-ts/stdit';
import { ChunkedVideoCodec } from '@opensora-ts/vae';
import { loadTrainConfig } from '../src/config.js';
import { shapesWorldOptions } from '../src/data-source.js';
import { buildDit, buildTextEncoder, buildVae, weightsPath } from '../src/models.js';
import { parseOverride } from '../src/overrides.js';

const { values: a } = parseArgs({ options: { config: { type: 'string' }, set: { type: 'string', multiple: true, default: [] }, clips: { type: 'string', default: '48' }, seed: { type: 'string', default: '99' }, shapes: { type: 'string', default: '2' } } });
if (!a.config) throw new Error('usage: binding-probe.ts --config DIT_CONFIG.json [--set model.from_pretrained=FILE ...] [--clips 48] [--seed 99] [--shapes 2|1]');
if (a.shapes !== '1' && a.shapes !== '2') throw new Error(`--shapes ${a.shapes}: expected 2 (two shapes moving opposite ways, the default) or 1 (one moving shape, for comparison).`);
const two = a.shapes === '2';
const { config: cfg } = loadTrainConfig(a.config, a.set.map(parseOverride));
if (cfg.task !== 'dit') throw new Error(`${a.config}: a DiT training config is needed (task "dit").`);
const sw = cfg.dataset.shapes_world;
if (!sw) throw new Error(`${a.config}: dataset.shapes_world is not set; the probe renders clips of the size and look the DiT was trained on.`);
if (!cfg.model.from_pretrained) throw new Error(`${a.config}: model.from_pretrained is not set; pass the DiT to probe with --set model.from_pretrained=FILE.`);

await initRuntime();
const log = () => {};
const text = buildTextEncoder(cfg);
const vae = buildVae(cfg.vae, log);
// Loaded strictly: a partial load (a wrong file) would leave random weights and a meaningless probe.
const dit = buildDit({ ...cfg, model: { ...cfg.model, from_pretrained: null } }, text, vae.zChannels, log).eval();
loadSTDiT3Weights(dit, weightsPath(cfg.model.from_pretrained), { strict: true });
const codec = new ChunkedVideoCodec(vae);
const fn = stdit3FlowModelFn(dit);
const [H, W, T, fps] = [sw.height, sw.width, sw.num_frames, sw.fps];
const N = Number(a.clips);
// Clips of the training set's size and look (its shapes_world block), held out by the probe's own seed, object scenes only.
const plan = { ...shapesWorldOptions(sw), numClips: N, seed: Number(a.seed), scenes: { object: 1, camera: 0, still: 0 }, twoShapeShare: two ? 1 : 0 };
const OPPOSITE: Record<string, string> = { left: 'right', right: 'left', up: 'down', down: 'up' };
const swapDirections = (caption: string) => caption.replace(/\b(left|right|up|down)\b/g, (w) => OPPOSITE[w]!);
const ts = [980, 900, 800, 600];
const wins = ts.map(() => 0);
const gap = ts.map(() => 0);
const loss = ts.map(() => 0);
const clips: ShapesClip[] = [];
for (let i = 0; clips.length < N; i++) {
  const c = planShapesClip(i, plan);
  if (!two || c.shapes[0]!.color !== c.shapes[1]!.color) clips.push(c); // one colour for both cannot say which is which
}
const B = 8;
for (let i0 = 0; i0 < N; i0 += B) {
  const batch = clips.slice(i0, i0 + B);
  const x0 = tf.tidy(() => tf.concat(batch.map((c) => {
    const f = renderShapesClip(c).frames; // [T, H, W, 3] uint8 -> [1, 3, T, H, W] in [-1, 1]
    const x = tf.transpose(tf.tensor4d(Float32Array.from(f), [T, H, W, 3]), [3, 0, 1, 2]).div(127.5).sub(1).expandDims(0) as tf.Tensor5D;
    return codec.encode(x, { samplePosterior: false });
  }), 0));
  const truth = await text.encode(batch.map((c) => c.caption));
  const swapped = await text.encode(batch.map((c) => swapDirections(c.caption)));
  for (const [j, t] of ts.entries()) {
    const noise = new SeededRandom(1000 * j + i0).normalTensor(x0.shape);
    const rowLoss = (y: { states: tf.Tensor; mask: tf.Tensor }) =>
      tf.tidy(() => Array.from(trainingLoss(fn, x0, { text: { y: y.states, mask: y.mask }, meta: { height: H, width: W, numFrames: T, fps }, t: batch.map(() => t), noise }).loss.dataSync()));
    const right = rowLoss(truth);
    const wrong = rowLoss(swapped);
    batch.forEach((_, k) => {
      if (right[k]! < wrong[k]!) wins[j]!++;
      gap[j]! += (wrong[k]! - right[k]!) / N;
      loss[j]! += right[k]! / N;
    });
    noise.dispose();
  }
  tf.dispose([x0, truth.states, truth.mask, swapped.states, swapped.mask]);
}
console.log(`${cfg.model.from_pretrained}: ${N} ${two ? 'two-shape' : 'one-shape'} clips (seed ${a.seed}); flow loss with the true caption vs its directions swapped`);
for (const [j, t] of ts.entries()) console.log(`  t=${t}: true caption lower in ${wins[j]}/${N}, mean loss ${loss[j]!.toFixed(4)}, mean gap ${gap[j]!.toFixed(4)}`);
dit.dispose();
vae.dispose();
text.dispose();
