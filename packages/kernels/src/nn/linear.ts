import { tf } from '../tf.js';
import { Module, type Parameter } from './module.js';
import { uniformFanIn } from './init.js';

export interface LinearOptions {
  bias?: boolean;
  /** Zero-initialise weight and bias (Open-Sora's zero-init projections). */
  zeroInit?: boolean;
}

/** y = x W^T + b over the last axis; weight [out, in] as in PyTorch. */
export class Linear extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter | null;
  constructor(readonly inFeatures: number, readonly outFeatures: number, options: LinearOptions = {}) {
    super();
    const zero = options.zeroInit ?? false;
    this.weight = this.registerParameter('weight', [outFeatures, inFeatures], () =>
      zero ? tf.zeros([outFeatures, inFeatures]) : uniformFanIn([outFeatures, inFeatures], inFeatures),
    );
    this.bias = options.bias === false ? null : this.registerParameter('bias', [outFeatures], () => (zero ? tf.zeros([outFeatures]) : uniformFanIn([outFeatures], inFeatures)));
  }

  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      // 2-D matMul: tfjs's broadcasting batched-matMul gradient is broken (backends.md).
      const lead = x.shape.slice(0, -1);
      const x2 = tf.reshape(x, [-1, this.inFeatures]) as tf.Tensor2D;
      const w = this.weight.value as tf.Tensor2D;
      // The bias goes into the product (_FusedMatMul): a backend may write it into the output
      // and accumulate the GEMM on top, with no separate Add pass. tfjs's gradient of the fused
      // op is the same matMuls as BatchMatMul's plus the bias's column sum.
      const y = this.bias ? tf.fused.matMul({ a: x2, b: w, transposeB: true, bias: this.bias.value }) : tf.matMul(x2, w, false, true);
      return tf.reshape(y, [...lead, this.outFeatures]);
    });
  }
}
