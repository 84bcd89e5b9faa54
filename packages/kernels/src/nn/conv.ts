// Convolutions on channels-last tensors. State dicts keep PyTorch's layout
// ([out, in, kT, kH, kW]); the filter is transposed once at load to tfjs's [kT, kH, kW, in, out].
import { tf } from '../tf.js';
import { Module, type Parameter } from './module.js';
import { uniformFanIn } from './init.js';
import { conv3dPadded } from '../fused/conv3d.js';

type Triple = [number, number, number];
type Pair = [number, number];
const triple = (v: number | Triple): Triple => (typeof v === 'number' ? [v, v, v] : v);
const pair = (v: number | Pair): Pair => (typeof v === 'number' ? [v, v] : v);

export interface Conv3dOptions {
  stride?: number | Triple;
  /** Symmetric zero padding per dim (PyTorch's `padding`); causal padding is done outside. */
  padding?: number | Triple;
  bias?: boolean;
}

/** nn.Conv3d on [B, T, H, W, C]. */
export class Conv3d extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter | null;
  readonly kernel: Triple;
  readonly stride: Triple;
  readonly padding: Triple;
  constructor(readonly inChannels: number, readonly outChannels: number, kernel: number | Triple, options: Conv3dOptions = {}) {
    super();
    this.kernel = triple(kernel);
    this.stride = triple(options.stride ?? 1);
    this.padding = triple(options.padding ?? 0);
    const [kt, kh, kw] = this.kernel;
    const fanIn = inChannels * kt * kh * kw;
    this.weight = this.registerParameter('weight', [outChannels, inChannels, kt, kh, kw], () => uniformFanIn([kt, kh, kw, inChannels, outChannels], fanIn), {
      toLocal: (t) => tf.transpose(t, [2, 3, 4, 1, 0]),
      toTorch: (t) => tf.transpose(t, [4, 3, 0, 1, 2]),
    });
    this.bias = options.bias === false ? null : this.registerParameter('bias', [outChannels], () => uniformFanIn([outChannels], fanIn));
  }

  forward(x: tf.Tensor5D): tf.Tensor5D {
    return tf.tidy(() => {
      const [pt, ph, pw] = this.padding;
      // pad -> conv3d -> add(bias), fused where the backend has the kernel.
      return conv3dPadded(x, this.weight.value as tf.Tensor5D, this.bias?.value ?? null, this.stride, [[pt, pt], [ph, ph], [pw, pw]]);
    });
  }
}

export interface Conv2dOptions {
  stride?: number | Pair;
  padding?: number | Pair;
  bias?: boolean;
}

/** nn.Conv2d on [N, H, W, C]; weight [out, in, kH, kW] in the state dict. */
export class Conv2d extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter | null;
  readonly kernel: Pair;
  readonly stride: Pair;
  readonly padding: Pair;
  constructor(readonly inChannels: number, readonly outChannels: number, kernel: number | Pair, options: Conv2dOptions = {}) {
    super();
    this.kernel = pair(kernel);
    this.stride = pair(options.stride ?? 1);
    this.padding = pair(options.padding ?? 0);
    const [kh, kw] = this.kernel;
    const fanIn = inChannels * kh * kw;
    this.weight = this.registerParameter('weight', [outChannels, inChannels, kh, kw], () => uniformFanIn([kh, kw, inChannels, outChannels], fanIn), {
      toLocal: (t) => tf.transpose(t, [2, 3, 1, 0]),
      toTorch: (t) => tf.transpose(t, [3, 2, 0, 1]),
    });
    this.bias = options.bias === false ? null : this.registerParameter('bias', [outChannels], () => uniformFanIn([outChannels], fanIn));
  }

  forward(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      const [ph, pw] = this.padding;
      const pad = ph || pw ? ([[0, 0], [ph, ph], [pw, pw], [0, 0]] as [number, number][]) : 'valid';
      let y = tf.conv2d(x, this.weight.value as tf.Tensor4D, this.stride, pad as 'valid');
      if (this.bias) y = tf.add(y, this.bias.value);
      return y;
    });
  }
}
