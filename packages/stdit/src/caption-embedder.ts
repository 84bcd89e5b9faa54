// CaptionEmbedder: projects T5 states [B, 1, L, caption_channels] to the hidden size. It owns the
// null caption `y_embedding` [L, caption_channels] (a persistent buffer, never optimised), which
// replaces whole captions at training time with probability class_dropout_prob (CFG dropout).
import { Module, tf, type BufferEntry, type SeededRandom } from '@opensora-ts/kernels';
import { Mlp } from './mlp.js';

export interface CaptionDropOptions {
  /** Training mode: captions may be dropped. */
  train: boolean;
  /** Overrides class_dropout_prob for this call (the reference's text_uncond_prob). */
  uncondProb?: number;
  /** Per-sample forced drop (1/true = replace by the null caption), as the reference's force_drop_ids. */
  forceDropIds?: ArrayLike<number | boolean>;
  rng: SeededRandom;
  /** Per-sample generators: sample i's dropout draw comes from rowRngs[i] (data-parallel training). */
  rowRngs?: SeededRandom[] | null;
}

export class CaptionEmbedder extends Module {
  readonly yProj: Mlp;
  readonly yEmbedding: BufferEntry;
  constructor(readonly inChannels: number, readonly hiddenSize: number, readonly uncondProb: number, readonly tokenNum: number) {
    super();
    this.yProj = this.registerModule('y_proj', new Mlp(inChannels, hiddenSize, hiddenSize));
    this.yEmbedding = this.registerBuffer('y_embedding', [tokenNum, inChannels], () => tf.div(tf.randomNormal([tokenNum, inChannels]), Math.sqrt(inChannels)));
  }

  /** The null caption [L, caption_channels]. */
  get nullCaption(): tf.Tensor {
    if (!this.yEmbedding.tensor) throw new Error('y_embedder.y_embedding has no storage (module built with withShapesOnly and not loaded)');
    return this.yEmbedding.tensor;
  }

  /** The per-sample drop decisions for this call, or null when nothing is dropped. */
  dropIds(batch: number, o: CaptionDropOptions): boolean[] | null {
    if (o.forceDropIds) {
      if (o.forceDropIds.length !== batch) throw new Error(`forceDropIds has ${o.forceDropIds.length} entries, expected one per sample (${batch})`);
      return Array.from(o.forceDropIds, (v) => Boolean(v));
    }
    const p = o.uncondProb ?? this.uncondProb;
    if (!o.train || p <= 0) return null;
    return Array.from({ length: batch }, (_, i) => (o.rowRngs?.[i] ?? o.rng).uniform() < p);
  }

  /** caption [B, 1, L, Cin] -> [B, 1, L, hidden]. */
  forward(caption: tf.Tensor, o: CaptionDropOptions): tf.Tensor {
    return tf.tidy(() => {
      const [b, one, l, cin] = caption.shape as [number, number, number, number];
      if (caption.rank !== 4 || one !== 1 || cin !== this.inChannels) {
        throw new Error(`y: expected [B, 1, L, ${this.inChannels}] caption states, got [${caption.shape}]`);
      }
      let y = caption;
      const drop = this.dropIds(b, o);
      if (drop && drop.some(Boolean)) {
        if (l !== this.tokenNum) throw new Error(`y: caption dropout needs the full ${this.tokenNum} tokens, got ${l}`);
        // Row by row (slices and one concat), not tf.where over a broadcast mask: that materialises a
        // [B, 1, L, C] bool mask and selects every element (160-220 ms of a train step at [2, 1, 300, 4096]
        // when the native backend still left them to tfjs-cpu). Same values: each row is copied.
        const nullY = tf.reshape(this.nullCaption, [1, 1, l, cin]);
        const rows = drop.map((d, i) => (d ? nullY : tf.slice(caption, [i, 0, 0, 0], [1, 1, l, cin])));
        y = rows.length === 1 ? rows[0]! : tf.concat(rows, 0);
      }
      return this.yProj.forward(y);
    });
  }
}
