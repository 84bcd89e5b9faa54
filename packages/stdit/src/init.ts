// The reference's weight initialisation (STDiT3.initialize_weights), for training from scratch:
// - Linear: xavier-uniform weights, zero bias;
// - zero weights for the cond embedders, fps_embedder.mlp.2, and the temporal blocks' attn.proj,
//   cross_attn.proj and mlp.fc2 (so a fresh model starts as an image model);
// - fps_embedder.mlp.0 ~ N(0, 0.02);
// - patch convs: PyTorch's default U(+-1/sqrt(fan_in));
// - scale_shift_table ~ N(0,1)/sqrt(C), RMSNorm weight 1, rope.freqs canonical;
// - y_embedding ~ N(0,1)/sqrt(caption_channels).
// It fills parameters of a model built with withShapesOnly (no double allocation) or replaces
// existing values.
import { Conv3d, Linear, Module, RMSNorm, tf, type Parameter } from '@opensora-ts/kernels';
import { RotaryEmbedding, canonicalRopeFreqs } from './rope.js';
import { CaptionEmbedder } from './caption-embedder.js';

function* walk(m: Module, prefix = ''): Generator<[string, Module]> {
  yield [prefix, m];
  for (const [n, c] of m.namedChildren()) yield* walk(c, prefix ? `${prefix}.${n}` : n);
}

/** Sets a parameter from a PyTorch-layout value (converted to the compute layout). */
function set(p: Parameter | null, make: () => tf.Tensor): void {
  if (!p) return;
  const local = tf.tidy(() => {
    const v = make();
    return p.options.toLocal ? p.options.toLocal(v) : v;
  });
  if (p.variable) {
    p.variable.assign(local);
    local.dispose();
  } else {
    p.variable = tf.variable(local, p.trainable);
    local.dispose(); // the variable holds its own reference to the data
  }
}

const zeroWeightLinear = (name: string) =>
  name === 'fps_embedder.mlp.2' || /^temporal_blocks\.\d+\.(attn\.proj|cross_attn\.proj|mlp\.fc2)$/.test(name);

/** Applies the reference initialisation; `seed` makes it reproducible. */
export function initializeWeights(model: Module, seed = 0): void {
  let s = seed;
  const next = () => (s = (s + 1) | 0);
  for (const [name, m] of walk(model)) {
    if (m instanceof Linear) {
      const [out, inp] = m.weight.torchShape as [number, number];
      const bound = Math.sqrt(6 / (inp + out));
      if (zeroWeightLinear(name)) set(m.weight, () => tf.zeros([out, inp]));
      else if (name === 'fps_embedder.mlp.0') set(m.weight, () => tf.randomNormal([out, inp], 0, 0.02, 'float32', next()));
      else set(m.weight, () => tf.randomUniform([out, inp], -bound, bound, 'float32', next()));
      set(m.bias, () => tf.zeros([out]));
    } else if (m instanceof Conv3d) {
      const shape = m.weight.torchShape;
      const zero = /^x_embedder_cond(_mask)?\.proj$/.test(name);
      const bound = 1 / Math.sqrt(shape.slice(1).reduce((a, b) => a * b, 1));
      set(m.weight, () => (zero ? tf.zeros(shape) : tf.randomUniform(shape, -bound, bound, 'float32', next())));
      set(m.bias, () => (zero ? tf.zeros([shape[0]!]) : tf.randomUniform([shape[0]!], -bound, bound, 'float32', next())));
    } else if (m instanceof RMSNorm) {
      set(m.weight, () => tf.ones([m.dim]));
    } else if (m instanceof RotaryEmbedding) {
      set(m.freqs, () => tf.tensor1d(canonicalRopeFreqs(m.dim, m.theta)));
    } else if (m instanceof CaptionEmbedder) {
      const b = m.yEmbedding;
      b.tensor?.dispose();
      const [l, c] = b.torchShape as [number, number];
      b.tensor = tf.keep(tf.tidy(() => tf.div(tf.randomNormal([l, c], 0, 1, 'float32', next()), Math.sqrt(c))));
    }
  }
  for (const [name, p] of model.namedParameters()) {
    if (name.endsWith('scale_shift_table')) {
      const [k, c] = p.torchShape as [number, number];
      set(p, () => tf.div(tf.randomNormal([k, c], 0, 1, 'float32', next()), Math.sqrt(c)));
    }
  }
  const empty = [...model.namedParameters()].filter(([, p]) => !p.variable).map(([k]) => k);
  if (empty.length) throw new Error(`initializeWeights: no initialiser for ${empty.join(', ')}`);
}
