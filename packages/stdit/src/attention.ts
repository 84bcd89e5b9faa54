// Self-attention of STDiT3 blocks: qkv (laid out [q | k | v], each head-major), RMSNorm on q and
// k over the head dim, then RoPE (after the norm, as 1.3 does), softmax attention with an
// optional key-padding mask, and the output projection.
import { Linear, Module, RMSNorm, applyRotary, scaledDotProductAttention, tf } from '@opensora-ts/kernels';

export interface SelfAttentionOptions {
  /** Rotation angles [N, headDim] (or narrower: only that many leading channels rotate). */
  angles?: tf.Tensor2D | null;
  /** [Bq, N]: 1 where a key is a real token, 0 where it is padding. */
  keyMask?: tf.Tensor2D | null;
}

export class Attention extends Module {
  readonly qkv: Linear;
  readonly qNorm: RMSNorm | null;
  readonly kNorm: RMSNorm | null;
  readonly proj: Linear;
  readonly headDim: number;
  constructor(readonly dim: number, readonly numHeads: number, qkNorm: boolean) {
    super();
    this.headDim = dim / numHeads;
    this.qkv = this.registerModule('qkv', new Linear(dim, dim * 3));
    this.qNorm = qkNorm ? this.registerModule('q_norm', new RMSNorm(this.headDim, { eps: 1e-6 })) : null;
    this.kNorm = qkNorm ? this.registerModule('k_norm', new RMSNorm(this.headDim, { eps: 1e-6 })) : null;
    this.proj = this.registerModule('proj', new Linear(dim, dim));
  }

  /** x [Bq, N, C] -> [Bq, N, C]. */
  forward(x: tf.Tensor, o: SelfAttentionOptions = {}): tf.Tensor3D {
    return tf.tidy(() => {
      const [bq, n, c] = x.shape as [number, number, number];
      const qkv = tf.reshape(this.qkv.forward(x), [bq, n, 3, this.numHeads, this.headDim]);
      const [q0, k0, v0] = tf.unstack(tf.transpose(qkv, [2, 0, 3, 1, 4])) as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
      let q: tf.Tensor = this.qNorm ? this.qNorm.forward(q0) : q0;
      let k: tf.Tensor = this.kNorm ? this.kNorm.forward(k0) : k0;
      if (o.angles) {
        q = applyRotary(q, o.angles);
        k = applyRotary(k, o.angles);
      }
      const out = scaledDotProductAttention(q as tf.Tensor4D, k as tf.Tensor4D, v0, { keyMask: o.keyMask ?? null });
      const merged = tf.reshape(tf.transpose(out, [0, 2, 1, 3]), [bq, n, c]);
      return this.proj.forward(merged) as tf.Tensor3D;
    });
  }
}

/**
 * MultiHeadCrossAttention: image tokens attend to caption tokens (no qk-norm, no RoPE). Each
 * sample sees only its own valid caption tokens: the reference packs captions ragged with a
 * block-diagonal mask; a per-sample key mask over the padded captions is the same maths.
 */
export class MultiHeadCrossAttention extends Module {
  readonly qLinear: Linear;
  readonly kvLinear: Linear;
  readonly proj: Linear;
  readonly headDim: number;
  constructor(readonly dim: number, readonly numHeads: number) {
    super();
    this.headDim = dim / numHeads;
    this.qLinear = this.registerModule('q_linear', new Linear(dim, dim));
    this.kvLinear = this.registerModule('kv_linear', new Linear(dim, dim * 2));
    this.proj = this.registerModule('proj', new Linear(dim, dim));
  }

  /** x [B, N, C], cond [B, L, C], keyMask [B, L] (null: every token valid) -> [B, N, C]. */
  forward(x: tf.Tensor, cond: tf.Tensor, keyMask: tf.Tensor2D | null): tf.Tensor3D {
    return tf.tidy(() => {
      const [b, n, c] = x.shape as [number, number, number];
      const l = cond.shape[1]!;
      const h = this.numHeads;
      const d = this.headDim;
      const q = tf.transpose(tf.reshape(this.qLinear.forward(x), [b, n, h, d]), [0, 2, 1, 3]) as tf.Tensor4D;
      const kv = tf.transpose(tf.reshape(this.kvLinear.forward(cond), [b, l, 2, h, d]), [2, 0, 3, 1, 4]);
      const [k, v] = tf.unstack(kv) as [tf.Tensor4D, tf.Tensor4D];
      const out = scaledDotProductAttention(q, k, v, { keyMask });
      return this.proj.forward(tf.reshape(tf.transpose(out, [0, 2, 1, 3]), [b, n, c])) as tf.Tensor3D;
    });
  }
}
