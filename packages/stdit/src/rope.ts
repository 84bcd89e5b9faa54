// Rotary embedding as STDiT3 1.3 uses it: one RotaryEmbedding (`rope.freqs`, a constant
// parameter) shared by all blocks. With kernel_size set, each head vector is cut into three
// chunks [t | h | w], each rotated along its own axis; h and w positions are divided by the
// resolution scale. The angle tables below lay the three chunks side by side so one
// applyRotary call (interleaved pairs) rotates the whole head.
import { Module, tf, type Parameter } from '@opensora-ts/kernels';

const f32 = Math.fround;

export class RotaryEmbedding extends Module {
  readonly freqs: Parameter;
  constructor(readonly dim: number, readonly theta = 10000) {
    super();
    this.freqs = this.registerParameter('freqs', [dim / 2], () => tf.tensor1d(canonicalRopeFreqs(dim, theta)), { trainable: false });
  }

  /** The frequencies on the host (read per call: 12 numbers, and always the loaded value). */
  hostFreqs(): Float32Array {
    return Float32Array.from(this.freqs.value.dataSync());
  }
}

/** 10000^(-2j/dim), j = 0..dim/2-1, formed as the reference does (float32 arange / dim, pow, reciprocal). */
export function canonicalRopeFreqs(dim: number, theta = 10000): Float32Array {
  const out = new Float32Array(dim / 2);
  for (let j = 0; j < dim / 2; j++) out[j] = f32(1 / f32(theta ** f32((2 * j) / dim)));
  return out;
}

function fill(out: Float32Array, row: number, width: number, offset: number, pos: number, freqs: Float32Array): void {
  const base = row * width + offset;
  for (let j = 0; j < freqs.length; j++) {
    const a = f32(pos * freqs[j]!);
    out[base + 2 * j] = a;
    out[base + 2 * j + 1] = a;
  }
}

const scaled = (i: number, scale: number) => f32(i / f32(scale));

/**
 * Angles [kh*kw*t, 3*2*F] for window tokens in (h_local, w_local, t) order: the t chunk at the
 * frame index, the h/w chunks at the window-local row/column divided by `scale`.
 */
export function windowRopeAngles(freqs: Float32Array, kh: number, kw: number, t: number, scale: number): Float32Array {
  const d3 = 2 * freqs.length;
  const width = 3 * d3;
  const out = new Float32Array(kh * kw * t * width);
  let row = 0;
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      for (let k = 0; k < t; k++) {
        fill(out, row, width, 0, k, freqs);
        fill(out, row, width, d3, scaled(i, scale), freqs);
        fill(out, row, width, 2 * d3, scaled(j, scale), freqs);
        row++;
      }
    }
  }
  return out;
}

/**
 * Angles [h*w, 3*2*F] for one frame's patches in (row, col) order: global row/column divided by
 * `scale`; the t chunk sits at position 0 (angle 0, the identity).
 */
export function spatialRopeAngles(freqs: Float32Array, h: number, w: number, scale: number): Float32Array {
  return windowRopeAngles(freqs, h, w, 1, scale);
}

/** Angles [t, 2*F] for 1-D RoPE along time (kernel_size null: per-pixel temporal attention). */
export function temporalRopeAngles(freqs: Float32Array, t: number): Float32Array {
  const d = 2 * freqs.length;
  const out = new Float32Array(t * d);
  for (let k = 0; k < t; k++) fill(out, k, d, 0, k, freqs);
  return out;
}
