// T2IFinalLayer: LN (no affine) modulated by its own 2-row table plus t (the summed timestep+fps
// embedding, not t_mlp), then Linear to patch_volume * out_channels, ordered (pt, ph, pw, C_out).
import { Linear, Module, layerNormModulate, tf } from '@opensora-ts/kernels';
import { modulationParams } from './modulation.js';

export class T2IFinalLayer extends Module {
  readonly scaleShiftTable;
  readonly linear: Linear;
  constructor(readonly hiddenSize: number, numPatch: number, readonly outChannels: number) {
    super();
    this.scaleShiftTable = this.registerParameter('scale_shift_table', [2, hiddenSize], () => tf.div(tf.randomNormal([2, hiddenSize]), Math.sqrt(hiddenSize)));
    this.linear = this.registerModule('linear', new Linear(hiddenSize, numPatch * outChannels));
  }

  /**
   * x [B, T*S, C], t [B, C]; t0/xMask for the frame-mask path -> [B, T*S, numPatch*out].
   * The reference's quirk is kept: masked frames are normalised and modulated a second time,
   * on top of the t-modulated tokens (it reassigns x before forming the t0 version).
   */
  forward(x: tf.Tensor, t: tf.Tensor, t0: tf.Tensor | null, xMask: tf.Tensor | null, frames: number): tf.Tensor3D {
    return tf.tidy(() => {
      const [b, n, c] = x.shape as [number, number, number];
      const table = this.scaleShiftTable.value;
      const [shift, scale] = modulationParams(table, t, null, null, frames) as [tf.Tensor, tf.Tensor];
      const x4 = tf.reshape(x, [b, frames, n / frames, c]);
      let h = layerNormModulate(x4, shift, scale, 1e-6);
      if (t0 && xMask) {
        const [shift0, scale0] = modulationParams(table, t0, null, null, frames) as [tf.Tensor, tf.Tensor];
        const h0 = layerNormModulate(h, shift0, scale0, 1e-6);
        const keep = tf.broadcastTo(tf.reshape(xMask, [b, frames, 1, 1]), h.shape);
        h = tf.where(keep, h, h0);
      }
      return this.linear.forward(tf.reshape(h, [b, n, c])) as tf.Tensor3D;
    });
  }
}
