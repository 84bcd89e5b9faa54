// Elementwise kernels, table-driven: one ATen op per tfjs kernel of the same name
// (csrc/ops/elementwise.cc), plus the few that take attributes or make tensors.
import * as tf from '@tensorflow/tfjs-core';
import { attrs, inputList, kernel, type TorchKernel } from './util.js';

/** tfjs kernels with input {x} and no attributes. */
export const UNARY = [
  'Abs', 'Acos', 'Acosh', 'Asin', 'Asinh', 'Atan', 'Atanh', 'Ceil', 'Cos', 'Cosh', 'Elu', 'Erf', 'Exp', 'Expm1',
  'Floor', 'IsFinite', 'IsInf', 'IsNan', 'Log', 'Log1p', 'LogicalNot', 'Neg', 'Reciprocal', 'Relu', 'Relu6',
  'Round', 'Rsqrt', 'Selu', 'Sigmoid', 'Sign', 'Sin', 'Sinh', 'Softplus', 'Sqrt', 'Square', 'Tan', 'Tanh',
] as const;

/** tfjs kernels with inputs {a, b} (broadcasting) and no attributes. */
export const BINARY = [
  'Add', 'Sub', 'Multiply', 'RealDiv', 'FloorDiv', 'Mod', 'Maximum', 'Minimum', 'Pow', 'SquaredDifference', 'Atan2',
  'Equal', 'NotEqual', 'Less', 'LessEqual', 'Greater', 'GreaterEqual', 'LogicalAnd', 'LogicalOr',
] as const;

const unary = UNARY.map((name) => kernel(name, (b, { inputs }) => b.run1(name, [inputs.x])));
const binary = BINARY.map((name) => kernel(name, (b, { inputs }) => b.run1(name, [inputs.a, inputs.b])));

/** tfjs's Range length: ceil((stop - start) / step) elements, none when the step points away. */
function rangeSize(start: number, stop: number, step: number): number {
  if (start === stop || (start < stop && step < 0) || (stop < start && step > 1)) return 0;
  return Math.abs(Math.ceil((stop - start) / (stop < start && step === 1 ? -1 : step)));
}

const other: TorchKernel[] = [
  kernel('LeakyRelu', (b, a) => b.run1('LeakyRelu', [a.inputs.x], { alpha: attrs<{ alpha: number }>(a).alpha })),
  kernel('Step', (b, a) => b.run1('Step', [a.inputs.x], { alpha: attrs<{ alpha: number }>(a).alpha })),
  kernel('ClipByValue', (b, a) => {
    const { clipValueMin, clipValueMax } = attrs<{ clipValueMin: number; clipValueMax: number }>(a);
    return b.run1('ClipByValue', [a.inputs.x], { clipValueMin, clipValueMax });
  }),
  kernel('Select', (b, { inputs }) => b.run1('Select', [inputs.condition, inputs.t, inputs.e])),
  kernel('AddN', (b, a) => b.run1('AddN', inputList(a))),
  kernel('Cast', (b, a) => {
    const x = a.inputs.x!;
    const { dtype } = attrs<{ dtype: tf.DataType }>(a);
    if (dtype === x.dtype) return b.share(x, x.shape);
    if (dtype !== 'float32' && dtype !== 'int32' && dtype !== 'bool') return undefined;
    return b.run1('Cast', [x], { dtype });
  }),
  kernel('Fill', (b, a) => {
    const { shape, value, dtype } = attrs<{ shape: number[]; value: number | string; dtype: tf.DataType }>(a);
    if (typeof value !== 'number' || (dtype !== 'float32' && dtype !== 'int32' && dtype !== 'bool')) return undefined;
    return b.run1('Fill', [], { shape, value, dtype });
  }),
  kernel('ZerosLike', (b, { inputs }) => b.run1('ZerosLike', [inputs.x])),
  kernel('OnesLike', (b, { inputs }) => b.run1('OnesLike', [inputs.x])),
  kernel('Range', (b, a) => {
    const { start, stop, step, dtype } = attrs<{ start: number; stop: number; step: number; dtype: 'float32' | 'int32' }>(a);
    return b.run1('Range', [], { start, step: stop < start && step === 1 ? -1 : step, size: rangeSize(start, stop, step), dtype });
  }),
  kernel('OneHot', (b, a) => {
    const { depth, onValue, offValue, dtype } = attrs<{ depth: number; onValue: number; offValue: number; dtype: tf.DataType }>(a);
    return b.run1('OneHot', [a.inputs.indices], { depth, onValue, offValue, dtype });
  }),
];

export const elementwiseKernels: TorchKernel[] = [...unary, ...binary, ...other];
