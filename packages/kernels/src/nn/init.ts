import { tf } from '../tf.js';

/** PyTorch's default Linear/Conv init bound, U(-1/sqrt(fan_in), 1/sqrt(fan_in)). */
export function uniformFanIn(shape: number[], fanIn: number, seed?: number): tf.Tensor {
  const bound = 1 / Math.sqrt(fanIn);
  return tf.randomUniform(shape, -bound, bound, 'float32', seed);
}
