// Gradients of the fused kernels: each calls the backend's backward kernel by name, so a backend
// that overrides 'Opensora<Op>Grad' (native C) gets its own backward with no change here.
// Gradients are global in tfjs (one per kernel name, every backend).
import { tf } from '../tf.js';
import { ropeAnglesGrad } from './rope.js';

type Attrs = Record<string, unknown>;

function asList(out: tf.Tensor | tf.Tensor[]): tf.Tensor[] {
  return Array.isArray(out) ? out : [out];
}

/**
 * Runs a norm's backward kernel once on dy (eagerly: the closures tfjs calls each run in their own
 * tidy, which would dispose sibling outputs made lazily) and hands out dx, dgamma, dbeta.
 */
export function normGradients(gradKernel: string, dy: tf.Tensor, x: tf.Tensor, gamma: tf.Tensor | undefined, attrs: Attrs): Record<string, () => tf.Tensor> {
  const inputs: tf.NamedTensorMap = { dy, x };
  const hasGamma = Boolean(attrs.hasGamma);
  if (hasGamma) inputs.gamma = gamma!;
  const outs = asList(tf.engine().runKernel(gradKernel, inputs, attrs as tf.NamedAttrMap) as tf.Tensor | tf.Tensor[]);
  const grads: Record<string, () => tf.Tensor> = { x: () => outs[0]! };
  let next = 1;
  if (hasGamma) {
    const dg = outs[next++]!;
    grads.gamma = () => dg;
  }
  if (attrs.hasBeta) {
    const db = outs[next++]!;
    grads.beta = () => db;
  }
  return grads;
}

function normGrad(gradKernel: string) {
  return (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: Attrs): Record<string, () => tf.Tensor> => {
    const [x, gamma] = saved as [tf.Tensor, tf.Tensor | undefined];
    return normGradients(gradKernel, dy as tf.Tensor, x, gamma, attrs);
  };
}

let registered = false;

/** Registers the gradients of the fused kernels (idempotent). */
export function registerFusedGradients(): void {
  if (registered) return;
  registered = true;
  // 'gamma' is saved for the backward; the forward op always passes one while a tape records
  // (tfjs cannot save an absent input), see runFused.
  for (const name of ['OpensoraLayerNorm', 'OpensoraGroupNorm', 'OpensoraRMSNorm']) {
    tf.registerGradient({
      kernelName: name,
      inputsToSave: ['x', 'gamma'],
      gradFunc: normGrad(`${name}Grad`) as unknown as tf.GradConfig['gradFunc'],
    });
  }
  tf.registerGradient({
    kernelName: 'OpensoraGeluTanh',
    inputsToSave: ['x'],
    gradFunc: ((dy: tf.Tensor, saved: tf.Tensor[], attrs: Attrs) => {
      const outs = asList(tf.engine().runKernel('OpensoraGeluTanhGrad', { dy, x: saved[0]! }, (attrs ?? {}) as tf.NamedAttrMap) as tf.Tensor | tf.Tensor[]);
      return { x: () => outs[0]! };
    }) as unknown as tf.GradConfig['gradFunc'],
  });
  tf.registerGradient({
    kernelName: 'OpensoraRope',
    inputsToSave: ['x', 'angles'],
    gradFunc: ((dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [x, angles] = saved as [tf.Tensor, tf.Tensor2D];
      return {
        x: () => tf.engine().runKernel('OpensoraRopeGrad', { dy, angles }, {}) as tf.Tensor,
        angles: () => ropeAnglesGrad(dy, x, angles),
      };
    }) as unknown as tf.GradConfig['gradFunc'],
  });
  tf.registerGradient({
    kernelName: 'OpensoraAttention',
    inputsToSave: ['q', 'k', 'v', 'mask'],
    gradFunc: ((dy: tf.Tensor, saved: tf.Tensor[], attrs: Attrs) => {
      const [q, k, v, mask] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
      const outs = asList(tf.engine().runKernel('OpensoraAttentionGrad', { dy, q, k, v, mask }, attrs as tf.NamedAttrMap) as tf.Tensor | tf.Tensor[]);
      // The mask is a constant; it gets a zero gradient in case it lies on a differentiated path.
      return { q: () => outs[0]!, k: () => outs[1]!, v: () => outs[2]!, mask: () => tf.zerosLike(mask) };
    }) as unknown as tf.GradConfig['gradFunc'],
  });
}
