// Reductions over any set of axes (csrc/ops/reduce.cc), softmax, arg-reductions, cumsum and
// segment sums. Axes are normalised here with tfjs's own helper, so negative axes and a
// missing axis (all axes) mean what they mean in tfjs.
import * as tf from '@tensorflow/tfjs-core';
import { attrs, kernel, type TorchKernel } from './util.js';

export const REDUCE = ['Sum', 'Mean', 'Max', 'Min', 'Prod', 'All', 'Any'] as const;

const reductions = REDUCE.map((name) =>
  kernel(name, (b, a) => {
    const x = a.inputs.x!;
    const { axis, keepDims } = attrs<{ axis: number | number[]; reductionIndices?: number | number[]; keepDims: boolean }>(a);
    const axes = tf.util.parseAxisParam(axis ?? attrs<{ reductionIndices: number[] }>(a).reductionIndices, x.shape);
    return b.run1(name, [x], { axes, keepDims: Boolean(keepDims) });
  }),
);

function argReduce(name: 'ArgMax' | 'ArgMin'): TorchKernel {
  return kernel(name, (b, a) => {
    const x = a.inputs.x!;
    const axes = tf.util.parseAxisParam(attrs<{ axis: number | number[] }>(a).axis, x.shape);
    if (axes.length !== 1) return undefined;
    return b.run1(name, [x], { axis: axes[0]! });
  });
}

export const reduceKernels: TorchKernel[] = [
  ...reductions,
  argReduce('ArgMax'),
  argReduce('ArgMin'),
  kernel('Softmax', (b, a) => {
    const logits = a.inputs.logits!;
    const dim = attrs<{ dim: number }>(a).dim;
    return b.run1('Softmax', [logits], { dim: dim < 0 ? dim + logits.shape.length : dim });
  }),
  kernel('Cumsum', (b, a) => {
    const x = a.inputs.x!;
    const { axis, exclusive, reverse } = attrs<{ axis: number; exclusive: boolean; reverse: boolean }>(a);
    return b.run1('Cumsum', [x], { axis: tf.util.parseAxisParam(axis, x.shape)[0]!, exclusive, reverse });
  }),
  kernel('UnsortedSegmentSum', (b, a) => {
    const { numSegments } = attrs<{ numSegments: number }>(a);
    return b.run1('UnsortedSegmentSum', [a.inputs.x, a.inputs.segmentIds], { numSegments });
  }),
];
