// silu(groupNorm(x)) as one fused op: the VAE's GN -> SiLU pair. A backend that registers the
// kernel 'OpensoraGroupNormSilu' (native) writes the normalised, activated output in one pass
// instead of three (norm, sigmoid, multiply); every other backend runs the composite, which is
// exactly today's two ops. The gradient recomputes the norm's output and reuses the backend's
// 'OpensoraGroupNormGrad', so it needs no backward kernel of its own.
import { tf } from '../tf.js';
import { silu } from '../ops/activations.js';
import { groupNorm } from '../ops/norms.js';
import { normGradients } from './gradients.js';
import { fusedKernelAvailable, type FusedKernelName } from './registry.js';

export const GROUP_NORM_SILU = 'OpensoraGroupNormSilu';

/** The reference: the two ops the fused kernel replaces. */
export function groupNormSiluComposite(x: tf.Tensor, groups: number, gamma: tf.Tensor | null, beta: tf.Tensor | null, eps: number): tf.Tensor {
  return tf.tidy(() => silu(groupNorm(x, groups, gamma, beta, eps)));
}

let gradientRegistered = false;

function registerGradient(): void {
  if (gradientRegistered) return;
  gradientRegistered = true;
  tf.registerGradient({
    kernelName: GROUP_NORM_SILU,
    inputsToSave: ['x', 'gamma', 'beta'],
    gradFunc: ((dy: tf.Tensor, saved: tf.Tensor[], attrs: Record<string, number>) => {
      const [x, gamma, beta] = saved as [tf.Tensor, tf.Tensor | undefined, tf.Tensor | undefined];
      const normInputs: tf.NamedTensorMap = { x };
      if (attrs.hasGamma) normInputs.gamma = gamma!;
      if (attrs.hasBeta) normInputs.beta = beta!;
      // y = GN(x); d silu(y)/dy as the composite's autograd forms it: dy*s + (dy*y) * (s*(1-s)).
      const y = tf.engine().runKernel('OpensoraGroupNorm', normInputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
      const s = tf.sigmoid(y);
      const dn = tf.add(tf.mul(dy, s), tf.mul(tf.mul(dy, y), tf.mul(s, tf.sub(1, s))));
      return normGradients('OpensoraGroupNormGrad', dn, x, gamma, attrs);
    }) as unknown as tf.GradConfig['gradFunc'],
  });
}

/**
 * silu(groupNorm(x, groups, gamma, beta, eps)) on channels-last x [N, ...spatial, C]; one pass
 * where the backend has the fused kernel, the two ops otherwise (same values either way).
 */
export function groupNormSilu(x: tf.Tensor, groups: number, gamma: tf.Tensor | null, beta: tf.Tensor | null, eps: number): tf.Tensor {
  const c = x.shape[x.rank - 1]!;
  if (c % groups !== 0) throw new Error(`groupNormSilu: ${c} channels do not split into ${groups} groups`);
  if (!fusedKernelAvailable(GROUP_NORM_SILU as FusedKernelName)) return groupNormSiluComposite(x, groups, gamma, beta, eps);
  registerGradient();
  const inputs: tf.NamedTensorMap = { x };
  // The gradient saves gamma and beta; tfjs cannot save an absent input, so while a tape records a
  // norm without them runs with ones / zeros (same result, constants, pruned from backprop).
  const taping = tapeRecording();
  const ones = !gamma && taping ? tf.ones([c]) : null;
  const zeros = !beta && taping ? tf.zeros([c]) : null;
  const g = gamma ?? ones;
  const b = beta ?? zeros;
  if (g) inputs.gamma = g;
  if (b) inputs.beta = b;
  const attrs = { eps, groups, hasGamma: g ? 1 : 0, hasBeta: b ? 1 : 0 };
  const y = tf.engine().runKernel(GROUP_NORM_SILU, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
  ones?.dispose();
  zeros?.dispose();
  return y;
}

function tapeRecording(): boolean {
  const engine = tf.engine() as unknown as { isTapeOn?: () => boolean };
  return typeof engine.isTapeOn === 'function' ? engine.isTapeOn() : true;
}
