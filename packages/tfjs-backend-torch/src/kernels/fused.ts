// The fused kernels of @opensora-ts/kernels (contract: its src/fused/cpu-kernels.ts), as
// ATen calls: layer_norm / native_group_norm and their backward, RMSNorm as a few ATen ops,
// GroupNorm + SiLU, the adaLN modulation and gated residual (fused/modulate.ts), gelu(tanh),
// and attention through scaled_dot_product_attention (csrc/ops/norms.cc, csrc/ops/attention.cc).
// Attributes pass through unchanged.
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
  kernel('OpensoraGroupNormSilu', (b, a) => b.run1('OpensoraGroupNormSilu', [a.inputs.x, a.inputs.gamma ?? null, a.inputs.beta ?? null], passAttrs(a))),
  kernel('OpensoraLayerNormModulate', (b, a) => b.run1('OpensoraLayerNormModulate', [a.inputs.x, a.inputs.shift, a.inputs.scale], passAttrs(a))),
  kernel('OpensoraLayerNormModulateGrad', (b, a) => b.runOp('OpensoraLayerNormModulateGrad', [a.inputs.dy, a.inputs.x, a.inputs.scale], passAttrs(a))),
  kernel('OpensoraGatedAdd', (b, a) => b.run1('OpensoraGatedAdd', [a.inputs.x, a.inputs.gate, a.inputs.y], passAttrs(a))),
  kernel('OpensoraGatedAddGrad', (b, a) => b.runOp('OpensoraGatedAddGrad', [a.inputs.dy, a.inputs.gate, a.inputs.y], passAttrs(a))),
  kernel('OpensoraGeluTanh', (b, a) => b.run1('OpensoraGeluTanh', [a.inputs.x])),
  kernel('OpensoraGeluTanhGrad', (b, a) => b.runOp('OpensoraGeluTanhGrad', [a.inputs.dy, a.inputs.x])),
  // Under a gradient tape the forward asks the addon to keep what the backward needs (the flash
  // kernel's output and logsumexp, where the libtorch runs it on this device); the gradient then
  // takes them instead of recomputing the forward. Elsewhere the addon returns the output alone.
  kernel('OpensoraAttention', (b, a) => {
    const { q, k, v, mask } = a.inputs;
    if (!b.recordingGradients()) return b.run1('OpensoraAttention', [q, k, v, mask], passAttrs(a));
    const [y, ...saved] = b.runOp('OpensoraAttention', [q, k, v, mask], { ...passAttrs(a), saveForGrad: true });
    if (saved.length > 0) b.saveForGradient('OpensoraAttention', [q!, k!, v!, mask!], attrKey(a), saved);
    return y!;
  }),
  kernel('OpensoraAttentionGrad', (b, a) => {
    const { dy, q, k, v, mask } = a.inputs;
    const saved = b.takeSaved('OpensoraAttention', [q!, k!, v!, mask!], attrKey(a)) ?? [];
    try {
      return b.runOp('OpensoraAttentionGrad', [dy, q, k, v, mask, ...saved], passAttrs(a));
    } finally {
      for (const t of saved) b.disposeData(t.dataId, true);
    }
  }),
];

/** The attributes of an attention call, as part of its saved forward's key (the gradient gets the forward's). */
const attrKey = (a: Args): string => JSON.stringify(a.attrs ?? {});
