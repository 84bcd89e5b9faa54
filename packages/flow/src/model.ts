// The interface between the scheduler and a denoiser. `flow` never imports a model package: a
// model is any function of (x_t, t, conditioning) returning [B, C_out, T, H, W] whose first C
// channels (C = channels of x_t) are the velocity x0 - noise. STDiT3 wraps itself into this shape.
import type { Tensor } from '@opensora-ts/kernels';
import type { VideoMeta } from './timestep-transform.js';

/** What the scheduler hands the model besides x_t and t (the reference's keyword arguments). */
export interface ModelConditioning {
  /** Caption states [B, 1, L, C_text], one row per row of x. */
  y: Tensor;
  /** Caption token mask [B, L] (int32, 1 = real token), one row per row of y; absent = all tokens. */
  mask?: Tensor;
  /** Frame mask [B, T] (bool): false frames are clean and take the timestep-0 modulation. */
  xMask?: Tensor;
  /** I2V/V2V reference latents [B, C, T, H, W], zero outside the conditioned frames. */
  cond?: Tensor;
  /** 1 on conditioned frames, 0 elsewhere, [B, C, T, H, W]. */
  condMask?: Tensor;
  /** Conditioned latent frame indices. Undefined = no conditioning path (plain t2v sampling). */
  maskIndex?: number[];
  /** Null caption states [B, 1, L, C_text] that conditioned frames cross-attend to. */
  yNull?: Tensor;
  /** Caption dropout probability for this call (training); 0 when frames are conditioned. */
  textUncondProb?: number;
  /**
   * Training only: one seed per row for the model's own random draws (caption dropout, drop path),
   * so row i draws the same whatever batch or rank it is in. Absent: the model's own generator.
   */
  sampleSeeds?: number[];
  /** Pixel size and frame count of the video (the reference passes them as height/width/num_frames/fps/ar). */
  meta: VideoMeta;
}

/**
 * A denoiser. It must not dispose its inputs and returns a new tensor the caller owns. Training needs
 * it synchronous (gradients are taped); the sampler also accepts a Promise.
 */
export type ModelFn = (x: Tensor, t: Tensor, c: ModelConditioning) => Tensor;
export type AsyncModelFn = (x: Tensor, t: Tensor, c: ModelConditioning) => Tensor | Promise<Tensor>;

/**
 * Encoded text for sampling, produced by a text encoder elsewhere (flow does not depend on one).
 * `yNull` is the model's null caption (STDiT3: y_embedder.y_embedding broadcast to [B, 1, L, C]);
 * `negative` replaces it in the unconditional rows when negative prompts are given.
 */
export interface TextConditioning {
  /** Prompt states [B, 1, L, C_text]. */
  y: Tensor;
  /** Prompt token mask [B, L]; the unconditional rows reuse it unless `negative` brings its own. */
  mask?: Tensor;
  /** Null caption [B, 1, L, C_text] (or [1, 1, L, C_text], broadcast). */
  yNull: Tensor;
  negative?: { y: Tensor; mask?: Tensor };
}

/** The velocity half of a model output: its first `channels` channels. */
export function velocityOf(out: Tensor, channels: number): Tensor {
  if (out.rank !== 5 || out.shape[1]! < channels) {
    throw new Error(`model output has shape [${out.shape}], expected [B, >=${channels}, T, H, W] (velocity = first ${channels} channels).`);
  }
  if (out.shape[1] === channels) return out.clone();
  return out.slice([0, 0, 0, 0, 0], [-1, channels, -1, -1, -1]);
}
