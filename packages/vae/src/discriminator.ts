// NLayerDiscriminator3D (the 3D PatchGAN of the reference's VAE training, use_actnorm=False):
// conv(s2)+LReLU, then n_layers-1 strided conv+BatchNorm3d+LReLU, one stride-1 conv+BN+LReLU,
// and a 1-channel conv. Keys `main.{i}.*` follow the reference's nn.Sequential indices.
import { Conv3d, Module, tf } from '@opensora-ts/kernels';
import { Namespace } from './namespace.js';

/** nn.BatchNorm3d over channels-last input: batch statistics in training, running ones in eval. */
export class BatchNorm3d extends Module {
  readonly weight;
  readonly bias;
  readonly runningMean;
  readonly runningVar;
  readonly numBatchesTracked;
  constructor(readonly channels: number, readonly eps = 1e-5, readonly momentum = 0.1) {
    super();
    this.weight = this.registerParameter('weight', [channels], () => tf.ones([channels]));
    this.bias = this.registerParameter('bias', [channels], () => tf.zeros([channels]));
    this.runningMean = this.registerBuffer('running_mean', [channels], () => tf.zeros([channels]));
    this.runningVar = this.registerBuffer('running_var', [channels], () => tf.ones([channels]));
    this.numBatchesTracked = this.registerBuffer('num_batches_tracked', [], () => tf.scalar(0));
  }

  forward(x: tf.Tensor5D): tf.Tensor5D {
    const axes = [0, 1, 2, 3];
    if (!this.training) {
      return tf.tidy(() => {
        const inv = tf.rsqrt(tf.add(this.runningVar.tensor!, this.eps));
        return tf.add(tf.mul(tf.mul(tf.sub(x, this.runningMean.tensor!), inv), this.weight.value), this.bias.value) as tf.Tensor5D;
      });
    }
    const { mean, variance } = tf.moments(x, axes);
    const out = tf.tidy(() => {
      const inv = tf.rsqrt(tf.add(variance, this.eps));
      return tf.add(tf.mul(tf.mul(tf.sub(x, mean), inv), this.weight.value), this.bias.value) as tf.Tensor5D;
    });
    // Running statistics use the unbiased variance, as PyTorch does.
    const n = x.size / this.channels;
    const update = (entry: { tensor: tf.Tensor | null }, value: tf.Tensor) => {
      const next = tf.keep(tf.tidy(() => tf.add(tf.mul(entry.tensor!, 1 - this.momentum), tf.mul(value, this.momentum))));
      entry.tensor!.dispose();
      entry.tensor = next;
    };
    update(this.runningMean, mean);
    update(this.runningVar, tf.tidy(() => tf.mul(variance, n / Math.max(n - 1, 1))));
    const count = tf.keep(tf.add(this.numBatchesTracked.tensor!, 1));
    this.numBatchesTracked.tensor!.dispose();
    this.numBatchesTracked.tensor = count;
    tf.dispose([mean, variance]);
    return out;
  }
}

export interface DiscriminatorOptions {
  input_nc?: number;
  ndf?: number;
  n_layers?: number;
}

type Layer = { kind: 'conv'; m: Conv3d } | { kind: 'bn'; m: BatchNorm3d } | { kind: 'lrelu' };

export class NLayerDiscriminator3D extends Module {
  private readonly layers: Layer[] = [];

  /** Defaults of the reference's VAE training config: input_nc 3, ndf 64, n_layers 3. */
  constructor(options: DiscriminatorOptions = {}) {
    super();
    const { input_nc: inputNc = 3, ndf = 64, n_layers: nLayers = 3 } = options;
    const layers: Layer[] = [];
    tf.tidy(() => {
      const main = new Namespace();
      const conv = (cin: number, cout: number, stride: [number, number, number], bias: boolean) => {
        const m = main.add(String(layers.length), new Conv3d(cin, cout, 3, { stride, padding: 1, bias }));
        // weights_init: conv weights N(0, 0.02)
        if (m.weight.variable) m.weight.variable.assign(tf.randomNormal(m.weight.variable.shape, 0, 0.02));
        if (m.bias?.variable) m.bias.variable.assign(tf.zeros(m.bias.variable.shape));
        layers.push({ kind: 'conv', m });
      };
      const bn = (c: number) => {
        const m = main.add(String(layers.length), new BatchNorm3d(c));
        m.weight.variable?.assign(tf.randomNormal([c], 1, 0.02));
        layers.push({ kind: 'bn', m });
      };
      const lrelu = () => layers.push({ kind: 'lrelu' });
      conv(inputNc, ndf, [2, 2, 2], true);
      lrelu();
      let mult = 1;
      for (let n = 1; n < nLayers; n++) {
        const prev = mult;
        mult = Math.min(2 ** n, 8);
        conv(ndf * prev, ndf * mult, [n === 1 ? 2 : 1, 2, 2], false);
        bn(ndf * mult);
        lrelu();
      }
      const prev = mult;
      mult = Math.min(2 ** nLayers, 8);
      conv(ndf * prev, ndf * mult, [1, 1, 1], false);
      bn(ndf * mult);
      lrelu();
      conv(ndf * mult, 1, [1, 1, 1], true);
      this.registerModule('main', main);
    });
    this.layers = layers;
  }

  /** x [B, C, T, H, W] -> logits [B, 1, T', H', W'] (PyTorch layout in and out). */
  forward(x: tf.Tensor5D): tf.Tensor5D {
    return tf.tidy(() => {
      let h = tf.transpose(x, [0, 2, 3, 4, 1]) as tf.Tensor5D;
      for (const l of this.layers) {
        if (l.kind === 'conv') h = l.m.forward(h);
        else if (l.kind === 'bn') h = l.m.forward(h);
        else h = tf.leakyRelu(h, 0.2);
      }
      return tf.transpose(h, [0, 4, 1, 2, 3]) as tf.Tensor5D;
    });
  }
}
