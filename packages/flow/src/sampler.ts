// RFLOW.sample (spec §3.5, §3.6): Euler integration of the velocity field from t = T to 0 with
// classifier-free guidance. Three paths, as the reference:
//  - t2v: batch [z, z] with [prompt, null/negative] captions; oscillation guidance; flaw fix.
//  - I2V/V2V (`maskIndex` non-empty): batch [z, z, z] = [text+frames, frames only, nothing], guidance
//    u_all + g_img·(u_txt - u_all) + g_txt·(c - u_txt), image ramp, SDEdit of conditioned frames.
//  - mask strategy (`frameMask`): frames whose mask·T >= t are noisy, others are held at their value.
import { NonFiniteError, SeededRandom, countNonFinite, describeNonFinite, tf, toRandom, type Tensor } from '@opensora-ts/kernels';
import { addNoise } from './add-noise.js';
import type { HostFloat } from './bf16.js';
import { roundBf16 } from './bf16.js';
import { fixGuidanceFlaw, imageGuidanceRamp, oscillationScale } from './guidance.js';
import { velocityOf, type AsyncModelFn, type ModelConditioning, type TextConditioning } from './model.js';
import { samplingTimesteps } from './sampling-timesteps.js';
import type { VideoMeta } from './timestep-transform.js';
import { conditionMask } from './train-conditioning.js';

/** The scheduler settings (the reference's `scheduler` config keys, camelCased). */
export interface RFlowSamplerConfig {
  numSamplingSteps?: number;
  numTimesteps?: number;
  cfgScale?: number;
  useDiscreteTimesteps?: boolean;
  useTimestepTransform?: boolean;
  transformScale?: number;
  scaleTemporal?: boolean;
  useOscillationGuidance?: boolean;
  useFlawFix?: boolean;
  scaleImageWeight?: boolean;
  initialImageScale?: number;
  forceNum?: number;
  /**
   * Dtype of the video metadata for the timestep shift: 'bfloat16' reproduces the reference's
   * bf16 inference scripts (720p/113f last step 254.02 instead of 254.91); default 'float32'.
   */
  metaDtype?: HostFloat;
}

/** Open-Sora 1.3 inference defaults (configs/opensora-v1-3/inference/t2v.py). */
export const OPEN_SORA_13_SAMPLER: Required<RFlowSamplerConfig> = {
  numSamplingSteps: 30,
  numTimesteps: 1000,
  cfgScale: 7.5,
  useDiscreteTimesteps: false,
  useTimestepTransform: true,
  transformScale: 1.0,
  scaleTemporal: true,
  useOscillationGuidance: true,
  useFlawFix: true,
  scaleImageWeight: false,
  initialImageScale: 1.0,
  forceNum: 10,
  metaDtype: 'float32',
};

export interface SampleProgress {
  /** Steps done so far (1..total). */
  step: number;
  total: number;
  /** The timestep of the step just done. */
  t: number;
}

export interface SampleOptions {
  text: TextConditioning;
  meta: VideoMeta;
  /** Initial noise [B, C, T, H, W]; drawn from `rng` with `shape` when absent. Not disposed. */
  z?: Tensor;
  shape?: number[];
  /** Generator or seed for the initial noise and the fresh noise of SDEdit / mask strategies (default seed 1024). */
  rng?: SeededRandom | number;
  /** Text guidance scale (default config.cfgScale). */
  guidanceScale?: number;
  /** Image guidance scale for I2V/V2V (default config.cfgScale). */
  imageCfgScale?: number;
  /** Reference latents [B, C, T, H, W] (multiplied by zCondMask). */
  zCond?: Tensor;
  /** 1 on conditioned frames; built from maskIndex when absent. */
  zCondMask?: Tensor;
  /** Conditioned latent frames: non-empty selects the I2V/V2V path. */
  maskIndex?: number[];
  /** Re-noise the conditioned frames from zCond at the start of every step. */
  useSdedit?: boolean;
  useOscillationGuidanceForText?: boolean;
  useOscillationGuidanceForImage?: boolean;
  /** Mask-strategy frame mask [B][T] (1 = generate, edit_ratio on reference frames). */
  frameMask?: number[][];
  onProgress?: (p: SampleProgress) => void;
  /**
   * Checked before every step (the sampler yields to the event loop there, so timers such as
   * `AbortSignal.timeout(ms)` fire during a long sample); an aborted sample rejects with the
   * signal's reason and releases its tensors. A step already running is not interrupted.
   */
  signal?: AbortSignal;
  /**
   * Check after every step that the latent is finite and throw a NonFiniteError naming the step
   * when it is not (default true; one reduction per step).
   */
  checkFinite?: boolean;
}

function rowsOf(x: Tensor, n: number): Tensor {
  return x.shape[0] === n ? x : tf.broadcastTo(x, [n, ...x.shape.slice(1)]);
}

/** The caption batch for the model: [y, uncond] or [y, uncond, uncond], masks aligned to it. */
function captionBatch(text: TextConditioning, B: number, copies: 2 | 3): { y: Tensor; mask?: Tensor; yNull: Tensor } {
  return tf.tidy(() => {
    const y = rowsOf(text.y, B);
    const yNull = rowsOf(text.yNull.rank === 2 ? text.yNull.reshape([1, 1, ...text.yNull.shape]) : text.yNull, B);
    const uncondY = text.negative ? rowsOf(text.negative.y, B) : yNull;
    if (uncondY.shape[2] !== y.shape[2]) {
      throw new Error(`sample: the unconditional captions have ${uncondY.shape[2]} tokens but the prompts have ${y.shape[2]}; encode both to the same length.`);
    }
    const yAll = tf.concat([y, ...new Array(copies - 1).fill(uncondY)], 0);
    let mask: Tensor | undefined;
    const pm = text.mask;
    const nm = text.negative ? text.negative.mask : text.mask; // no negative: the null rows reuse the prompt mask
    if (pm || nm) {
      const ones = tf.ones([B, y.shape[2]!], 'int32');
      const a = pm ? rowsOf(pm.toInt(), B) : ones;
      const b = nm ? rowsOf(nm.toInt(), B) : ones;
      mask = tf.concat([a, ...new Array(copies - 1).fill(b)], 0);
    }
    // Conditioned frames cross-attend to the strict null caption, never to a negative prompt.
    const yNullAll = tf.concat(new Array(copies).fill(yNull), 0);
    return mask ? { y: yAll, mask, yNull: yNullAll } : { y: yAll, yNull: yNullAll };
  });
}

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason ?? new Error('sampling was aborted');
}

/**
 * Lets timers and I/O run between steps: a model that computes synchronously (tfjs-cpu, native)
 * resolves its promises as microtasks, so without this an `AbortSignal.timeout()`, a SIGINT
 * handler or a progress redraw would wait for the whole sample.
 */
const yieldToEventLoop: () => Promise<void> =
  typeof setImmediate === 'function' ? () => new Promise((r) => setImmediate(r)) : () => new Promise((r) => setTimeout(r, 0));

export class RFlowSampler {
  readonly config: Required<RFlowSamplerConfig>;

  constructor(config: RFlowSamplerConfig = {}) {
    this.config = { ...OPEN_SORA_13_SAMPLER, ...Object.fromEntries(Object.entries(config).filter(([, v]) => v !== undefined)) };
    const s = this.config.numSamplingSteps;
    if (!Number.isInteger(s) || s < 1) throw new RangeError(`RFlowSampler: num_sampling_steps must be a positive integer, got ${s}.`);
  }

  /** The timesteps the model sees, one per step (float32 values). */
  timesteps(meta: Pick<VideoMeta, 'height' | 'width' | 'numFrames'>): number[] {
    const c = this.config;
    return samplingTimesteps(c.numSamplingSteps, meta, {
      numTimesteps: c.numTimesteps,
      useTimestepTransform: c.useTimestepTransform,
      useDiscreteTimesteps: c.useDiscreteTimesteps,
      scale: c.transformScale,
      scaleTemporal: c.scaleTemporal,
      metaDtype: c.metaDtype,
    });
  }

  /** Runs the sampler; resolves to the final latent (the caller owns it). Every other tensor it made is released. */
  async sample(model: AsyncModelFn, o: SampleOptions): Promise<Tensor> {
    const c = this.config;
    const rng = toRandom(o.rng, 1024);
    if (!o.z && !o.shape) throw new Error('sample: pass the initial noise `z` or its `shape` [B, C, T, H, W].');
    const shape = o.z ? [...o.z.shape] : [...o.shape!];
    if (shape.length !== 5) throw new Error(`sample: the latent must be [B, C, T, H, W], got [${shape}].`);
    const [B, C, Tl] = shape as [number, number, number];
    const conditioned = (o.maskIndex?.length ?? 0) > 0;
    if (conditioned && o.frameMask) throw new Error('sample: maskIndex (I2V/V2V) and frameMask (mask strategy) cannot be combined; the reference forces the mask off for I2V/V2V.');
    if (conditioned && !o.zCond) throw new Error('sample: maskIndex is set but zCond (the reference latents) is missing.');
    if (o.frameMask && (o.frameMask.length !== B || o.frameMask.some((r) => r.length !== Tl))) {
      throw new Error(`sample: frameMask must be [${B}][${Tl}] (batch x latent frames).`);
    }
    const gText = o.guidanceScale ?? c.cfgScale;
    const gImage = o.imageCfgScale ?? c.cfgScale;
    const oscText = o.useOscillationGuidanceForText ?? c.useOscillationGuidance;
    const oscImage = o.useOscillationGuidanceForImage ?? c.useOscillationGuidance;
    // The model receives the metadata as the reference's tensors hold it (bf16-rounded there).
    const meta: VideoMeta = c.metaDtype === 'bfloat16' ? roundMeta(o.meta) : { ...o.meta };
    const timesteps = this.timesteps(meta);
    const copies = conditioned ? 3 : 2;

    const owned: Tensor[] = [];
    const own = <T extends Tensor>(t: T): T => (owned.push(t), t);
    let z: Tensor = o.z ? o.z.clone() : rng.normalTensor(shape);
    try {
      const caps = captionBatch(o.text, B, copies);
      own(caps.y);
      if (caps.mask) own(caps.mask);
      own(caps.yNull);
      let zCondMask: Tensor | undefined;
      let zCond: Tensor | undefined;
      let condIn: Tensor | undefined;
      let condMaskIn: Tensor | undefined;
      if (conditioned) {
        zCondMask = own(o.zCondMask ? o.zCondMask.clone() : conditionMask(shape, o.maskIndex!));
        zCond = own(tf.mul(o.zCond!, zCondMask));
        condIn = own(tf.tidy(() => tf.concat([zCond!, zCond!, tf.zerosLike(zCond!)], 0)));
        condMaskIn = own(tf.concat([zCondMask, zCondMask, zCondMask], 0));
      }
      const mask = o.frameMask?.map((r) => r.map((v) => Math.fround(Math.fround(v) * c.numTimesteps)));
      let noiseAdded = o.frameMask?.map((r) => r.map((v) => v === 1));

      for (let i = 0; i < timesteps.length; i++) {
        await yieldToEventLoop();
        checkAborted(o.signal);
        const t = timesteps[i]!;
        let x0: Tensor | undefined;
        let upper: boolean[][] | undefined;
        if (mask) {
          upper = mask.map((r) => r.map((m) => m >= t));
          const addMask = upper.map((r, b) => r.map((u, f) => u && !noiseAdded![b]![f]));
          noiseAdded = upper;
          x0 = z;
          if (addMask.some((r) => r.some(Boolean))) {
            const zPrev = z;
            z = tf.tidy(() => tf.where(frameMaskTensor(addMask, shape), addNoise(zPrev, rng.normalTensor(shape), [t], c.numTimesteps), zPrev));
          } else z = z.clone();
        }
        if (o.useSdedit && conditioned) {
          const zPrev = z;
          z = tf.tidy(() => tf.where(zCondMask!.equal(1), addNoise(zCond!, rng.normalTensor(shape), [t], c.numTimesteps), zPrev));
          zPrev.dispose();
        }
        const textGs = oscText ? oscillationScale(gText, i, c.forceNum) : gText;
        let imageGs: number | number[] = gImage;
        if (conditioned) {
          imageGs = oscImage ? oscillationScale(gImage, i, c.forceNum) : gImage;
          if (c.scaleImageWeight) imageGs = imageGuidanceRamp(imageGs, c.initialImageScale, i, timesteps.length, Tl) ?? imageGs;
        }

        const zIn = tf.concat(new Array(copies).fill(z), 0);
        const tIn = tf.fill([B * copies], t, 'float32');
        const xMask = upper ? frameMaskBool(upper, copies) : undefined;
        const cond: ModelConditioning = { y: caps.y, mask: caps.mask, meta, ...(xMask ? { xMask } : {}) };
        if (conditioned) Object.assign(cond, { cond: condIn, condMask: condMaskIn, maskIndex: [...o.maskIndex!], yNull: caps.yNull });
        let out: Tensor;
        try {
          out = await model(zIn, tIn, cond);
        } finally {
          zIn.dispose();
          tIn.dispose();
          xMask?.dispose();
        }
        const dt = Math.fround(Math.fround(i < timesteps.length - 1 ? Math.fround(t - timesteps[i + 1]!) : t) / c.numTimesteps);
        const zPrev = z;
        z = tf.tidy(() => {
          const pred = velocityOf(out, C);
          let v: Tensor;
          if (conditioned) {
            const [pc, pText, pAll] = tf.split(pred, 3, 0) as [Tensor, Tensor, Tensor];
            const gi = typeof imageGs === 'number' ? imageGs : tf.tensor(imageGs, [1, 1, Tl, 1, 1]);
            v = pAll.add(pText.sub(pAll).mul(gi)).add(pc.sub(pText).mul(textGs));
          } else {
            const [pc, pu] = tf.split(pred, 2, 0) as [Tensor, Tensor];
            v = pu.add(pc.sub(pu).mul(textGs));
            if (c.useFlawFix) v = fixGuidanceFlaw(v, pc);
          }
          let next = zPrev.add(v.mul(dt));
          if (upper) next = tf.where(frameMaskTensor(upper, shape), next, x0!);
          return next;
        });
        out.dispose();
        zPrev.dispose();
        if (x0 && x0 !== zPrev) x0.dispose();
        if (o.checkFinite ?? true) await checkFiniteLatent(z, i + 1, timesteps.length, t, gText, conditioned ? gImage : null);
        o.onProgress?.({ step: i + 1, total: timesteps.length, t });
      }
      return z;
    } catch (err) {
      z.dispose();
      throw err;
    } finally {
      for (const t of owned) t.dispose();
    }
  }
}

/** Throws a NonFiniteError naming the step when `z` holds NaN or +-Inf (x * 0 sums to NaN exactly then). */
async function checkFiniteLatent(z: Tensor, step: number, total: number, t: number, gText: number, gImage: number | null): Promise<void> {
  const probe = tf.tidy(() => tf.sum(tf.mul(z, 0)));
  const v = (await probe.data())[0]!;
  probe.dispose();
  if (v === 0) return;
  const bad = countNonFinite((await z.data()) as Float32Array);
  const scales = `text guidance scale (cfg_scale) ${gText}${gImage === null ? '' : `, image guidance scale ${gImage}`}`;
  const large = Math.max(Math.abs(gText), Math.abs(gImage ?? 0)) > 1e3;
  throw new NonFiniteError(
    `sampling step ${step} of ${total} (t = ${Number(t.toFixed(2))}): the latent holds ${describeNonFinite(bad)}; sampling stopped. ` +
      (large
        ? `The ${scales} is too large: float32 overflows. Use a scale between 1 and about 20 (Open-Sora 1.3 uses 7.5).`
        : `The model gave non-finite velocities (${scales}): check its weights, and that the backend computes this model correctly.`),
  );
}

function roundMeta(m: VideoMeta): VideoMeta {
  const r: VideoMeta = { height: roundBf16(m.height), width: roundBf16(m.width), numFrames: roundBf16(m.numFrames) };
  if (m.fps !== undefined) r.fps = roundBf16(m.fps);
  if (m.ar !== undefined) r.ar = roundBf16(m.ar);
  return r;
}

/** [B][T] booleans as a bool tensor broadcastable to [B, C, T, H, W]. */
function frameMaskTensor(m: boolean[][], shape: number[]): Tensor {
  return tf.tensor(m.flat().map(Number), [shape[0]!, 1, shape[2]!, 1, 1], 'bool');
}

/** x_mask for the model: the [B, T] frame mask repeated for each copy of the batch. */
function frameMaskBool(m: boolean[][], copies: number): Tensor {
  const rows = new Array(copies).fill(m).flat() as boolean[][];
  return tf.tensor(rows.flat().map(Number), [rows.length, rows[0]!.length], 'bool');
}
