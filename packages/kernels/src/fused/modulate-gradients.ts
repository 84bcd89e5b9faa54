// Gradients of the adaLN kernels of ./modulate.ts (kept apart from it: register.ts imports this
// file while the op modules are still loading, and ./modulate.ts imports the norms).
import { tf } from '../tf.js';

type Attrs = Record<string, unknown>;

let registered = false;

/** Registers both ops' gradients (idempotent); each runs the backend's backward kernel once, eagerly. */
export function registerModulateGradients(): void {
  if (registered) return;
  registered = true;
  tf.registerGradient({
    kernelName: 'OpensoraLayerNormModulate',
    inputsToSave: ['x', 'scale'],
    gradFunc: ((dy: tf.Tensor, saved: tf.Tensor[], attrs: Attrs) => {
      const [x, scale] = saved as [tf.Tensor, tf.Tensor];
      const [dx, dshift, dscale] = tf.engine().runKernel('OpensoraLayerNormModulateGrad', { dy, x, scale }, attrs as tf.NamedAttrMap) as tf.Tensor[];
      return { x: () => dx!, shift: () => dshift!, scale: () => dscale! };
    }) as unknown as tf.GradConfig['gradFunc'],
  });
  tf.registerGradient({
    kernelName: 'OpensoraGatedAdd',
    inputsToSave: ['x', 'gate', 'y'],
    gradFunc: ((dy: tf.Tensor, saved: tf.Tensor[], attrs: Attrs) => {
      const [x, gate, y] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
      const [dyy, dgate] = tf.engine().runKernel('OpensoraGatedAddGrad', { dy, gate, y }, attrs as tf.NamedAttrMap) as tf.Tensor[];
      return { x: () => tf.reshape(dy, x.shape), gate: () => dgate!, y: () => dyy! };
    }) as unknown as tf.GradConfig['gradFunc'],
  });
}
