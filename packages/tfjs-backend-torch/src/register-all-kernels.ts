// The single list of kernels the torch backend runs in libtorch. Every other kernel tfjs's
// cpu backend has is registered as a host round trip (backend.ts fallback()).
import { convKernels } from './kernels/conv.js';
import { copyKernels } from './kernels/copy.js';
import { elementwiseKernels } from './kernels/elementwise.js';
import { fusedKernels } from './kernels/fused.js';
import { matmulKernels } from './kernels/matmul.js';
import { optimKernels } from './kernels/optim.js';
import { reduceKernels } from './kernels/reduce.js';
import type { TorchKernel } from './kernels/util.js';

export const torchKernels: TorchKernel[] = [
  ...elementwiseKernels,
  ...reduceKernels,
  ...copyKernels,
  ...matmulKernels,
  ...convKernels,
  ...fusedKernels,
  ...optimKernels,
];
