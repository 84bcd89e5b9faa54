// The loop of scripts/inference.py for `loop > 1`: sample clip after clip, each conditioned on the
// last latents of the one before, then join them (mergeClips).
import { NonFiniteError, SeededRandom, type Tensor } from '@opensora-ts/kernels';
import { appendGenerated, applyMaskStrategy } from './mask-strategy.js';
import { mergeClips, prepRefAndMask, prepRefAndUpdateMaskInLoop, type CondType } from './extension.js';
import type { AsyncModelFn, TextConditioning } from './model.js';
import type { RFlowSampler, SampleOptions } from './sampler.js';

export interface SampleClipsOptions extends Omit<SampleOptions, 'z' | 'zCond' | 'zCondMask' | 'maskIndex' | 'frameMask' | 'text' | 'rng'> {
  /** Number of clips (the reference's `loop`). */
  loops: number;
  /** Latent shape of one clip [B, C, T, H, W]. */
  shape: number[];
  /** Encoded text of clip i (encode `promptForLoop(prompt, i)` for "|0|..|2|.." prompts). */
  textForClip: (clip: number) => TextConditioning;
  /** Seed of each clip's initial noise; the reference re-seeds 1024 before every clip, so all clips start from the same noise. */
  noiseSeed?: number;
  /** Extra generator for SDEdit / mask-strategy noise (default seeded from noiseSeed + 1). */
  rng?: SeededRandom;
  /** Latent frames carried from one clip to the next (condition_frame_length, default 5). */
  conditionFrameLength?: number;
  /** I2V/V2V mode; absent = t2v with mask strategies. */
  condType?: CondType;
  /** Reference latents per prompt, each [C, T_ref, H, W]. */
  refs?: Tensor[][];
  /** Mask strategy per prompt (t2v path). */
  maskStrategies?: string[];
  /** edit_ratio of the carried frames on the t2v path (condition_frame_edit, default 0). */
  conditionFrameEdit?: number;
  align?: number;
  /** Called with each finished clip (still owned by sampleClips). */
  onClip?: (clip: number, latent: Tensor) => void;
}

/**
 * Samples `loops` clips and returns them joined along time (cut to a multiple of 5 latents). With
 * `condType` each later clip is conditioned through I2V/V2V frames; otherwise the previous clip is
 * appended as a reference with the strategy "i,ref,-L,0,L,edit" for the clip i about to be sampled
 * (the 1.3 script tags the entry with the finished clip's index, so it never applies; this is the
 * documented behaviour instead).
 */
export async function sampleClips(sampler: RFlowSampler, model: AsyncModelFn, o: SampleClipsOptions): Promise<Tensor> {
  const B = o.shape[0]!;
  const L = o.conditionFrameLength ?? 5;
  const rng = o.rng ?? new SeededRandom((o.noiseSeed ?? 1024) + 1);
  let refs: Tensor[][] = o.refs ? o.refs.map((r) => [...r]) : Array.from({ length: B }, () => []);
  let strategies: string[] = o.maskStrategies ? [...o.maskStrategies] : new Array(B).fill('');
  const made: Tensor[] = [];
  const clips: Tensor[] = [];
  let cond: { ref: Tensor; maskIndex: number[] } | undefined = o.condType ? prepRefAndMask(o.condType, L, refs, o.shape, o.loops) : undefined;
  try {
    for (let i = 0; i < o.loops; i++) {
      const noise = new SeededRandom(o.noiseSeed ?? 1024).normalTensor(o.shape);
      const base: SampleOptions = { ...o, text: o.textForClip(i), rng };
      let clip: Tensor;
      try {
        if (cond) {
          clip = await sampler.sample(model, { ...base, z: noise, zCond: cond.ref, maskIndex: cond.maskIndex }).finally(() => noise.dispose());
        } else {
          const applied = applyMaskStrategy(noise, refs, strategies, i, o.align);
          noise.dispose();
          // An all-ones mask is a no-op while every timestep is <= T; it is left out.
          const frameMask = applied.mask?.some((r) => r.some((v) => v !== 1)) ? applied.mask : undefined;
          clip = await sampler.sample(model, { ...base, z: applied.z, frameMask }).finally(() => applied.z.dispose());
        }
      } catch (err) {
        // Name the clip too: "sampling step 3 of 30" alone is ambiguous in a looped video.
        if (err instanceof NonFiniteError && o.loops > 1) err.message = `clip ${i + 1} of ${o.loops}, ${err.message}`;
        throw err;
      }
      clips.push(clip);
      o.onClip?.(i, clip);
      if (i + 1 < o.loops) {
        if (o.condType) {
          const next = prepRefAndUpdateMaskInLoop(o.condType, L, clip, refs, o.shape, i + 1 === o.loops - 1);
          cond!.ref.dispose();
          cond = next;
        } else {
          const r = appendGenerated(refs, strategies, clip, i + 1, L, o.conditionFrameEdit ?? 0);
          refs = r.refs;
          strategies = r.strategies;
          made.push(...r.added);
        }
      }
    }
    return mergeClips(clips, L);
  } finally {
    cond?.ref.dispose();
    for (const t of [...clips, ...made]) t.dispose();
  }
}
