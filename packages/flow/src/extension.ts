// Multi-clip generation (spec §3.6): the per-clip prompt of "|0|text|2|text" prompts, the I2V/V2V
// references per clip, and joining clips whose first latents repeat the previous clip's last ones.
import { tf, type Tensor } from '@opensora-ts/kernels';

/** I2V/V2V sampling modes (v2v.py `cond_type`). */
export type CondType = 'i2v_head' | 'i2v_tail' | 'i2v_loop' | 'v2v_head';

/**
 * The prompt of clip `loopI` (extract_prompts_loop): "|0|a|2|b" gives "a" for clips 0-1 and "b"
 * from clip 2 on; prompts without the "|0|" prefix are used for every clip.
 */
export function promptForLoop(prompt: string, loopI: number): string {
  if (!prompt.startsWith('|0|')) return prompt;
  const parts = prompt.split('|').slice(1);
  const texts: string[] = [];
  for (let i = 0; i < parts.length; i += 2) {
    const start = Number.parseInt(parts[i]!, 10);
    const end = i + 2 < parts.length ? Number.parseInt(parts[i + 2]!, 10) : loopI + 1;
    if (Number.isNaN(start) || Number.isNaN(end)) throw new Error(`prompt '${prompt}': loop markers must be integers ("|0|text|2|text").`);
    for (let k = start; k < end; k++) texts.push(parts[i + 1] ?? '');
  }
  const p = texts[loopI];
  if (p === undefined) throw new Error(`prompt '${prompt}': no segment covers clip ${loopI}.`);
  return p;
}

/**
 * Latent frames of a multi-clip video: clip 0 whole, then each further clip without its first
 * `conditionFrameLength` latents, cut down to a multiple of 5; `pixelFrames` = cut·17/5 (the VAE's
 * 5 latents per 17 frames).
 */
export function extendedLatentLength(latentT: number, loops: number, conditionFrameLength = 5): { total: number; cut: number; pixelFrames: number } {
  if (!Number.isInteger(loops) || loops < 1) throw new RangeError(`loop must be a positive integer, got ${loops}.`);
  if (loops > 1 && conditionFrameLength >= latentT) {
    throw new RangeError(`condition_frame_length ${conditionFrameLength} must be smaller than the clip's ${latentT} latent frames for loop > 1.`);
  }
  const total = latentT + (loops - 1) * (latentT - conditionFrameLength);
  const cut = Math.floor(total / 5) * 5;
  return { total, cut, pixelFrames: Math.floor((cut * 17) / 5) };
}

/** Joins clips [B, C, T, H, W] along time, dropping each later clip's first latents, cut to a multiple of 5. */
export function mergeClips(clips: readonly Tensor[], conditionFrameLength = 5): Tensor {
  if (clips.length === 0) throw new Error('mergeClips: no clips.');
  return tf.tidy(() => {
    const parts = clips.map((c, i) => (i === 0 ? c : c.slice([0, 0, conditionFrameLength], [-1, -1, -1])));
    const all = tf.concat(parts, 2);
    const cut = Math.floor(all.shape[2]! / 5) * 5;
    return cut < all.shape[2]! ? all.slice([0, 0, 0], [-1, -1, cut]) : all;
  });
}

function writeFrames(target: Tensor, b: number, frames: number[], source: Tensor, sourceFrames: number[]): Tensor {
  // target [B, C, T, H, W]; source [C, T_s, H, W]; functional copy of target with frames replaced.
  return tf.tidy(() => {
    const [B, , T] = target.shape as [number, number, number];
    const rows = tf.split(target, B, 0);
    const cols = tf.split(rows[b]!, T, 2);
    frames.forEach((f, k) => {
      const s = sourceFrames[k]!;
      cols[f] = source.slice([0, s], [-1, 1]).expandDims(0);
    });
    rows[b] = tf.concat(cols, 2);
    return tf.concat(rows, 0);
  });
}

const idx = (i: number, n: number) => (i < 0 ? n + i : i);

/**
 * prep_ref_and_mask: the reference latent z_cond [B, C, T, H, W] and mask index of the first clip.
 * `refs[b]` are prompt b's reference latents, each [C, T_ref, H, W]. With loop > 1, i2v_tail starts
 * unconditioned and i2v_loop conditions frame 0 only (the tail comes with later clips).
 */
export function prepRefAndMask(condType: CondType, conditionFrameLength: number, refs: readonly (readonly Tensor[])[], targetShape: number[], loop: number): { ref: Tensor; maskIndex: number[] } {
  const [B, , T] = targetShape as [number, number, number];
  for (let b = 0; b < B; b++) if (!refs[b]?.length) throw new Error(`cond_type ${condType}: prompt ${b} has no reference; pass a reference image or video.`);
  let maskIndex: number[];
  if (condType === 'v2v_head') {
    const minRef = Math.min(...refs.slice(0, B).map((r) => r[0]!.shape[1]!));
    const n = Math.min(conditionFrameLength, minRef, T);
    maskIndex = Array.from({ length: n }, (_, i) => i);
  } else if (condType === 'i2v_head' || condType === 'i2v_loop') maskIndex = [0];
  else if (condType === 'i2v_tail') maskIndex = loop === 1 ? [-1] : [];
  else throw new Error(`cond_type '${String(condType)}' is not supported; use i2v_head, i2v_tail, i2v_loop or v2v_head.`);

  let ref = tf.zeros(targetShape);
  const swap = (next: Tensor) => {
    ref.dispose();
    ref = next;
  };
  for (let b = 0; b < B; b++) {
    const r0 = refs[b]![0]!;
    if (maskIndex.length > 0) swap(writeFrames(ref, b, maskIndex.map((i) => idx(i, T)), r0, maskIndex.map((i) => idx(i, r0.shape[1]!))));
  }
  if (condType === 'i2v_loop' && loop <= 1) {
    for (let b = 0; b < B; b++) {
      const rs = refs[b]!;
      // One reference: its last frame closes the loop; two: the first frame of the second.
      const [src, f] = rs.length === 1 ? [rs[0]!, rs[0]!.shape[1]! - 1] : [rs[1]!, 0];
      swap(writeFrames(ref, b, [T - 1], src, [f]));
    }
    maskIndex = [...maskIndex, T - 1];
  }
  if (condType === 'i2v_tail' && loop <= 1) maskIndex = [T - 1];
  return { ref, maskIndex };
}

/**
 * prep_ref_and_update_mask_in_loop: the next clip is conditioned on the last `conditionFrameLength`
 * latents of `samples`, written to its first frames; i2v_loop (every clip) and i2v_tail (when
 * `isLastLoop`) add the tail frame from the references. The reference computes `isLastLoop` for the
 * clip just finished, so its i2v_tail never reaches the tail with loop > 1; pass the flag for the
 * clip being prepared to get the documented behaviour.
 */
export function prepRefAndUpdateMaskInLoop(
  condType: CondType,
  conditionFrameLength: number,
  samples: Tensor,
  refs: readonly (readonly Tensor[])[],
  targetShape: number[],
  isLastLoop: boolean,
): { ref: Tensor; maskIndex: number[] } {
  const [B, , T] = targetShape as [number, number, number];
  const Ts = samples.shape[2]!;
  if (conditionFrameLength > Ts || conditionFrameLength > T) throw new RangeError(`condition_frame_length ${conditionFrameLength} exceeds the clip length (${Math.min(Ts, T)} latent frames).`);
  const maskIndex = Array.from({ length: conditionFrameLength }, (_, i) => i);
  let ref = tf.tidy(() => {
    const cut = samples.slice([0, 0, Ts - conditionFrameLength], [-1, -1, conditionFrameLength]);
    return T > conditionFrameLength ? tf.concat([cut, tf.zeros([B, targetShape[1]!, T - conditionFrameLength, targetShape[3]!, targetShape[4]!])], 2) : cut;
  });
  if (condType === 'i2v_loop' || (condType === 'i2v_tail' && isLastLoop)) {
    for (let b = 0; b < B; b++) {
      const rs = refs[b];
      if (!rs?.length) throw new Error(`cond_type ${condType}: prompt ${b} has no reference for the tail frame.`);
      const [src, f] = rs.length === 1 ? [rs[0]!, rs[0]!.shape[1]! - 1] : [rs[1]!, 0];
      const next = writeFrames(ref, b, [T - 1], src, [f]);
      ref.dispose();
      ref = next;
    }
    maskIndex.push(T - 1);
  }
  return { ref, maskIndex };
}
