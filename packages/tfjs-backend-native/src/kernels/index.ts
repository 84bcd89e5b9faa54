// Every kernel the native backend overrides; all other kernels are cpu's, shared unchanged.
import { attentionKernels } from './attention.js';
import { binaryKernels } from './binary.js';
import { convKernels } from './conv.js';
import { convNormKernels } from './conv-norm.js';
import { copyKernels } from './copy.js';
import { fusedKernels } from './fused.js';
import { batchMatMul, fusedMatMul } from './matmul.js';
import { modulateKernels } from './modulate.js';
import { optimKernels } from './optim.js';
import { pack } from './pack.js';
import { reduceKernels } from './reduce.js';
import { ropeKernels } from './rope.js';
import { softmax } from './softmax.js';
import { transpose } from './transpose.js';
import { unaryKernels } from './unary.js';
import type { NativeKernel } from './util.js';

export const nativeKernels: NativeKernel[] = [
  batchMatMul,
  fusedMatMul,
  ...convKernels,
  ...convNormKernels,
  softmax,
  ...binaryKernels,
  ...unaryKernels,
  ...reduceKernels,
  transpose,
  pack,
  ...copyKernels,
  ...fusedKernels,
  ...attentionKernels,
  ...ropeKernels,
  ...modulateKernels,
  ...optimKernels,
];
