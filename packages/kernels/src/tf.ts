// The one tfjs instance of the process. Every opensora-ts package takes `tf` from here and
// never imports tfjs itself, so kernels registered by a backend are seen everywhere.
// The umbrella package is used on purpose: it registers every gradient (tfjs-core alone does not).
import * as tf from '@tensorflow/tfjs';

export { tf };
export type Tensor = tf.Tensor;
export type Rank = tf.Rank;
