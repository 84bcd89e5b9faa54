// The mid-block AttnBlock: GroupNorm, 1x1x1 q/k/v, one head of width C over the whole clip
// flattened in (t, h, w) order with a causal mask over that flat sequence (even inside a frame,
// as the reference's is_causal=True does), then proj_out and the residual.
import { GroupNorm, Module, scaledDotProductAttention, tf } from '@opensora-ts/kernels';
import { CausalConv3dPlainAR } from './causal-conv3d.js';
import { vaeGroupNorm } from './resnet-block.js';
import type { TilingOptions } from './tiled-conv3d.js';

/** Above this many tokens the queries are processed in blocks, so the score matrix stays small. */
const QUERY_BLOCK = 2048;

export class AttnBlock extends Module {
  readonly norm: GroupNorm;
  readonly q: CausalConv3dPlainAR;
  readonly k: CausalConv3dPlainAR;
  readonly v: CausalConv3dPlainAR;
  readonly projOut: CausalConv3dPlainAR;

  constructor(readonly channels: number, groups = 32) {
    super();
    this.norm = this.registerModule('norm', vaeGroupNorm(channels, groups));
    this.q = this.registerModule('q', new CausalConv3dPlainAR(channels, channels, 1));
    this.k = this.registerModule('k', new CausalConv3dPlainAR(channels, channels, 1));
    this.v = this.registerModule('v', new CausalConv3dPlainAR(channels, channels, 1));
    this.projOut = this.registerModule('proj_out', new CausalConv3dPlainAR(channels, channels, 1));
  }

  enableTiling(tiling: TilingOptions | null): void {
    for (const c of [this.q, this.k, this.v, this.projOut]) c.enableTiling(tiling);
  }

  forward(x: tf.Tensor5D): tf.Tensor5D {
    return tf.tidy(() => {
      const [b, t, h, w, c] = x.shape;
      const n = t * h * w;
      const normed = this.norm.forward(x) as tf.Tensor5D;
      const flat = (y: tf.Tensor5D) => tf.reshape(y, [b, 1, n, c]) as tf.Tensor4D;
      const q = flat(this.q.forward(normed));
      const k = flat(this.k.forward(normed));
      const v = flat(this.v.forward(normed));
      const attended = causalAttention(q, k, v);
      const out = this.projOut.forward(tf.reshape(attended, [b, t, h, w, c]) as tf.Tensor5D);
      return tf.add(x, out) as tf.Tensor5D;
    });
  }
}

/** Causal single-head attention; long sequences go block by block over the queries. */
function causalAttention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D): tf.Tensor4D {
  const n = q.shape[2];
  if (n <= QUERY_BLOCK) return scaledDotProductAttention(q, k, v, { causal: true });
  const [b, heads, , d] = q.shape;
  const parts: tf.Tensor4D[] = [];
  for (let start = 0; start < n; start += QUERY_BLOCK) {
    const rows = Math.min(QUERY_BLOCK, n - start);
    const end = start + rows; // keys past the last query of the block are masked anyway
    parts.push(
      tf.tidy(() => {
        const qb = tf.slice(q, [0, 0, start, 0], [b, heads, rows, d]);
        const kb = tf.slice(k, [0, 0, 0, 0], [b, heads, end, d]);
        const vb = tf.slice(v, [0, 0, 0, 0], [b, heads, end, v.shape[3]]);
        // query start+r sees keys j <= start+r
        const mask = tf.reshape(tf.cast(tf.linalg.bandPart(tf.ones([rows, end]), -1, start), 'bool'), [1, rows, end]);
        return scaledDotProductAttention(qb, kb, vb, { keyMask: mask });
      }),
    );
  }
  const out = tf.concat(parts, 2) as tf.Tensor4D;
  for (const p of parts) p.dispose();
  return out;
}
