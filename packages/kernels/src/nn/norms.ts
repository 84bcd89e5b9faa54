import { tf } from '../tf.js';
import { Module, type Parameter } from './module.js';
import { groupNorm, layerNorm, rmsNorm } from '../ops/norms.js';

export interface NormOptions {
  eps?: number;
  /** PyTorch's elementwise_affine / affine (default true). */
  affine?: boolean;
}

/** nn.LayerNorm over the last axis. */
export class LayerNorm extends Module {
  readonly weight: Parameter | null;
  readonly bias: Parameter | null;
  readonly eps: number;
  constructor(readonly dim: number, options: NormOptions = {}) {
    super();
    this.eps = options.eps ?? 1e-5;
    const affine = options.affine ?? true;
    this.weight = affine ? this.registerParameter('weight', [dim], () => tf.ones([dim])) : null;
    this.bias = affine ? this.registerParameter('bias', [dim], () => tf.zeros([dim])) : null;
  }
  forward(x: tf.Tensor): tf.Tensor {
    return layerNorm(x, this.weight?.value ?? null, this.bias?.value ?? null, this.eps);
  }
}

/** nn.GroupNorm on channels-last input [N, ..., C]. */
export class GroupNorm extends Module {
  readonly weight: Parameter | null;
  readonly bias: Parameter | null;
  readonly eps: number;
  constructor(readonly groups: number, readonly channels: number, options: NormOptions = {}) {
    super();
    this.eps = options.eps ?? 1e-5;
    const affine = options.affine ?? true;
    this.weight = affine ? this.registerParameter('weight', [channels], () => tf.ones([channels])) : null;
    this.bias = affine ? this.registerParameter('bias', [channels], () => tf.zeros([channels])) : null;
  }
  forward(x: tf.Tensor): tf.Tensor {
    return groupNorm(x, this.groups, this.weight?.value ?? null, this.bias?.value ?? null, this.eps);
  }
}

/** RMSNorm over the last axis (weight only). */
export class RMSNorm extends Module {
  readonly weight: Parameter;
  readonly eps: number;
  constructor(readonly dim: number, options: { eps?: number } = {}) {
    super();
    this.eps = options.eps ?? 1e-6;
    this.weight = this.registerParameter('weight', [dim], () => tf.ones([dim]));
  }
  forward(x: tf.Tensor): tf.Tensor {
    return rmsNorm(x, this.weight.value, this.eps);
  }
}
