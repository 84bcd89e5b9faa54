// The "mask_strategy" conditioning of the 1.x inference scripts (spec §3.6, legacy path): entries
// `loop,ref_id,ref_start,target_start,length,edit_ratio` joined by ';' copy reference latent frames
// into z and give them a frame-mask value (edit_ratio) that decides when they start to move.
import { tf, type Tensor } from '@opensora-ts/kernels';

export interface MaskStrategyEntry {
  /** The clip (loop index) the entry applies to. */
  loop: number;
  /** Which reference of the prompt. */
  refId: number;
  /** First reference latent frame; negative counts from the end. */
  refStart: number;
  /** First target latent frame; negative counts from the end. */
  targetStart: number;
  length: number;
  /** 0 = frames stay fixed; r in (0,1) = they join the denoising once t <= r·T; 1 = regenerated. */
  editRatio: number;
}

const DEFAULTS = ['0', '0', '0', '0', '1', '0'];
const FIELDS = ['loop', 'ref_id', 'ref_start', 'target_start', 'length', 'edit_ratio'];

/** Parses "loop,ref_id,ref_start,target_start,length,edit_ratio;..." (missing trailing fields take 0,0,0,0,1,0). */
export function parseMaskStrategy(strategy: string | null | undefined): MaskStrategyEntry[] {
  if (strategy === undefined || strategy === null || strategy === '') return [];
  return strategy.split(';').map((entry) => {
    const parts = entry.split(',');
    if (parts.length < 1 || parts.length > 6) {
      throw new Error(`mask_strategy '${entry}': expected 1 to 6 comma-separated fields (${FIELDS.join(',')}), got ${parts.length}.`);
    }
    const full = [...parts, ...DEFAULTS.slice(parts.length)].map((s) => s.trim());
    const ints = full.slice(0, 5).map((s, i) => {
      if (!/^[+-]?\d+$/.test(s)) throw new Error(`mask_strategy '${entry}': ${FIELDS[i]} must be an integer, got '${s}'.`);
      return Number(s);
    });
    const edit = Number(full[5]);
    if (full[5] === '' || !Number.isFinite(edit)) throw new Error(`mask_strategy '${entry}': edit_ratio must be a number, got '${full[5]}'.`);
    const [loop, refId, refStart, targetStart, length] = ints as [number, number, number, number, number];
    return { loop, refId, refStart, targetStart, length, editRatio: edit };
  });
}

/** Rounds `value` to a multiple of `point` (down, or up past the half) without passing max_value. */
export function findNearestPoint(value: number, point: number, maxValue: number): number {
  let t = Math.floor(value / point);
  const rem = value - t * point;
  if (rem > point / 2 && t < Math.floor(maxValue / point) - 1) t += 1;
  return t * point;
}

/** Where one entry lands: frames [targetStart, targetStart+length) of z from [refStart, ...) of the reference. */
export function resolveMaskStrategyEntry(e: MaskStrategyEntry, refFrames: number, targetFrames: number, align?: number): { refStart: number; targetStart: number; length: number } {
  let refStart = e.refStart < 0 ? refFrames + e.refStart : e.refStart;
  let targetStart = e.targetStart < 0 ? targetFrames + e.targetStart : e.targetStart;
  if (align !== undefined) {
    refStart = findNearestPoint(refStart, align, refFrames);
    targetStart = findNearestPoint(targetStart, align, targetFrames);
  }
  const length = Math.min(e.length, targetFrames - targetStart, refFrames - refStart);
  return { refStart, targetStart, length };
}

/**
 * apply_mask_strategy: returns a copy of z [B, C, T, H, W] with the reference frames of `loopI`
 * written in, and the frame mask [B][T] (1 elsewhere), or mask null when no strategies are given.
 * `refs[b]` holds prompt b's reference latents, each [C, T_ref, H, W].
 */
export function applyMaskStrategy(
  z: Tensor,
  refs: readonly (readonly Tensor[])[],
  strategies: readonly (string | null | undefined)[],
  loopI: number,
  align?: number,
): { z: Tensor; mask: number[][] | null } {
  if (strategies.length === 0) return { z: z.clone(), mask: null };
  const [B, , T] = z.shape as [number, number, number];
  if (strategies.length !== B) throw new Error(`applyMaskStrategy: ${strategies.length} mask strategies for a batch of ${B}.`);
  const masks: number[][] = [];
  const rows = tf.tidy(() => {
    const out: Tensor[] = [];
    for (let b = 0; b < B; b++) {
      const mask = new Array(T).fill(1);
      const frames: Tensor[] = tf.split(z.slice([b], [1]), T, 2);
      for (const e of parseMaskStrategy(strategies[b])) {
        if (e.loop !== loopI) continue;
        const ref = refs[b]?.[e.refId];
        if (!ref) throw new Error(`mask_strategy of prompt ${b}: ref_id ${e.refId} but the prompt has ${refs[b]?.length ?? 0} reference(s).`);
        const Tr = ref.shape[1]!;
        const r = resolveMaskStrategyEntry(e, Tr, T, align);
        for (let k = 0; k < r.length; k++) {
          frames[r.targetStart + k] = ref.slice([0, r.refStart + k], [-1, 1]).expandDims(0);
          mask[r.targetStart + k] = e.editRatio;
        }
      }
      masks.push(mask);
      out.push(tf.concat(frames, 2));
    }
    return tf.concat(out, 0);
  });
  return { z: rows, mask: masks };
}

/**
 * append_generated: after clip `loopI`, each prompt gets the clip as a new reference and the entry
 * "loopI,<new ref id>,-L,0,L,edit" so the clip's last L latents become the first L of the next one
 * (the reference matches entries to `loop_id == loop_i`; the next clip is sampled with loopI + 1,
 * so pass the next clip's index here to have them apply, as `sampleClips` does).
 */
export function appendGenerated(
  refs: readonly (readonly Tensor[])[],
  strategies: readonly (string | null | undefined)[],
  generated: Tensor,
  loopI: number,
  conditionFrameLength = 5,
  conditionFrameEdit = 0.0,
): { refs: Tensor[][]; strategies: string[]; added: Tensor[] } {
  const B = generated.shape[0]!;
  const added: Tensor[] = [];
  const newRefs = Array.from({ length: B }, (_, j) => {
    const r = tf.tidy(() => generated.slice([j], [1]).squeeze([0]));
    added.push(r);
    return [...(refs[j] ?? []), r];
  });
  const newStrategies = Array.from({ length: B }, (_, j) => {
    const s = strategies[j];
    const prefix = s ? `${s};` : '';
    return `${prefix}${loopI},${newRefs[j]!.length - 1},-${conditionFrameLength},0,${conditionFrameLength},${conditionFrameEdit}`;
  });
  return { refs: newRefs, strategies: newStrategies, added };
}
