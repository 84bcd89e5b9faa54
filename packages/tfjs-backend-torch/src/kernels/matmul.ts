// Matrix products through at::matmul (broadcast batch dims, transposes as views).
import { attrs, inputList, kernel, type TorchKernel } from './util.js';

type MatMulAttrs = { transposeA: boolean; transposeB: boolean; activation?: string; leakyreluAlpha?: number };

export const matmulKernels: TorchKernel[] = [
  kernel('BatchMatMul', (b, a) => {
    const { transposeA, transposeB } = attrs<MatMulAttrs>(a);
    return b.run1('BatchMatMul', [a.inputs.a, a.inputs.b], { transposeA, transposeB });
  }),
  kernel('_FusedMatMul', (b, a) => {
    const { transposeA, transposeB, activation, leakyreluAlpha } = attrs<MatMulAttrs>(a);
    const { a: x, b: y, bias, preluActivationWeights } = a.inputs;
    return b.run1('_FusedMatMul', [x, y, bias ?? null, preluActivationWeights ?? null], {
      transposeA,
      transposeB,
      activation: activation ?? 'linear',
      leakyreluAlpha,
    });
  }),
  kernel('Einsum', (b, a) => b.run1('Einsum', inputList(a), { equation: attrs<{ equation: string }>(a).equation })),
];
