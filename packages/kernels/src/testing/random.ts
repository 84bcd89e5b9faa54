// Seeded test data, so a failing case reproduces exactly (tf.random* seeds differ by backend).
// Shorthands over the package's SeededRandom in the (seed, std, mean) order the op tests use.
import { SeededRandom } from '../random.js';
import type { tf } from '../tf.js';

/** `size` standard-normal float32 values, times `std`, plus `mean`. */
export function normalArray(size: number, seed: number, std = 1, mean = 0): Float32Array {
  return new SeededRandom(seed).normalArray(size, mean, std);
}

export function randn(shape: number[], seed: number, std = 1, mean = 0): tf.Tensor {
  return new SeededRandom(seed).normalTensor(shape, mean, std);
}
