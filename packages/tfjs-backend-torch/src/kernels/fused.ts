// The fused kernels of @opensora-ts/kernels (contract: its src/fused/cpu-kernels.ts), as
// ATen calls: layer_norm / native_group_norm and their backward, RMSNorm as a few ATen ops,
// gelu(tanh), and attention through scaled_dot_product_attention (csrc/ops/norms.cc,
// csrc/ops/attention.cc). Attributes pass through unchanged.
import type { OpAttrs } from '../addon.js';
import { kernel, type Args, type TorchKernel } from './util.js';

const passAttrs = (a: Args): OpAttrs => ({ ...(a.attrs as OpAttrs | undefined) });

function norm(name: string): TorchKernel[] {
  return [
    kernel(name, (b, a) => b.run1(name, [a.inputs.x, a.inputs.gamma ?? null, a.inputs.beta ?? null], passAttrs(a))),
    kernel(`${name}Grad`, (b, a) => b.runOp(`${name}Grad`, [a.inputs.dy, a.inputs.x, a.inputs.gamma ?? null], passAttrs(a))),
  ];
}

export const fusedKernels: TorchKernel[] = [
  ...norm('OpensoraLayerNorm'),
  ...norm('OpensoraGroupNorm'),
  ...norm('OpensoraRMSNorm'),
  kernel('OpensoraGeluTanh', (b, a) => b.run1('OpensoraGeluTanh', [a.inputs.x])),
  kernel('OpensoraGeluTanhGrad', (b, a) => b.runOp('OpensoraGeluTanhGrad', [a.inputs.dy, a.inputs.x])),
  kernel('OpensoraAttention', (b, a) => b.run1('OpensoraAttention', [a.inputs.q, a.inputs.k, a.inputs.v, a.inputs.mask], passAttrs(a))),
  kernel('OpensoraAttentionGrad', (b, a) =>
    b.runOp('OpensoraAttentionGrad', [a.inputs.dy, a.inputs.q, a.inputs.k, a.inputs.v, a.inputs.mask], passAttrs(a)),
  ),
];
