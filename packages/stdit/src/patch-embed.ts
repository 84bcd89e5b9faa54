// PatchEmbed3D: Conv3d with kernel = stride = patch, on a latent right-padded with zeros to
// multiples of the patch. Because the kernel equals the stride, the conv is a patchify reshape
// plus one matMul, which is much faster than tf.conv3d and has a plain gradient.
import { Conv3d, Module, tf } from '@opensora-ts/kernels';

export class PatchEmbed3D extends Module {
  readonly proj: Conv3d;
  constructor(readonly patchSize: [number, number, number], readonly inChannels: number, readonly embedDim: number) {
    super();
    this.proj = this.registerModule('proj', new Conv3d(inChannels, embedDim, patchSize, { stride: patchSize }));
  }

  /** x [B, C, T, H, W] (PyTorch layout) -> tokens [B, T'*H'*W', embedDim] in (T', H', W') row-major order. */
  forward(x: tf.Tensor): tf.Tensor3D {
    return tf.tidy(() => {
      const [b, c, t, h, w] = x.shape as [number, number, number, number, number];
      if (c !== this.inChannels) throw new Error(`PatchEmbed3D: input has ${c} channels, expected ${this.inChannels} ([B, C, T, H, W] layout)`);
      const [pt, ph, pw] = this.patchSize;
      const padT = (pt - (t % pt)) % pt;
      const padH = (ph - (h % ph)) % ph;
      const padW = (pw - (w % pw)) % pw;
      const xp = padT || padH || padW ? tf.pad(x, [[0, 0], [0, 0], [0, padT], [0, padH], [0, padW]]) : x;
      const nt = (t + padT) / pt;
      const nh = (h + padH) / ph;
      const nw = (w + padW) / pw;
      const r = tf.reshape(xp, [b, c, nt, pt, nh, ph, nw, pw]);
      // patch vector ordered (pt, ph, pw, C), matching the local filter [pt, ph, pw, C, out]
      const patches = tf.reshape(tf.transpose(r, [0, 2, 4, 6, 3, 5, 7, 1]), [b * nt * nh * nw, pt * ph * pw * c]) as tf.Tensor2D;
      const wmat = tf.reshape(this.proj.weight.value, [pt * ph * pw * c, this.embedDim]) as tf.Tensor2D;
      let y: tf.Tensor = tf.matMul(patches, wmat);
      if (this.proj.bias) y = tf.add(y, this.proj.bias.value);
      return tf.reshape(y, [b, nt * nh * nw, this.embedDim]) as tf.Tensor3D;
    });
  }
}

/** Patch-grid size (T', H', W') of a latent (T, H, W): each rounded up to the patch. */
export function patchGrid(t: number, h: number, w: number, patch: [number, number, number]): [number, number, number] {
  return [Math.ceil(t / patch[0]), Math.ceil(h / patch[1]), Math.ceil(w / patch[2])];
}
