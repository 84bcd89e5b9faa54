// Training timestep sampling (spec §3.2): uniform, logit-normal, or discrete, then the
// resolution/length shift. Draws come from SeededRandom, so a seed fixes them.
import type { SeededRandom } from '@opensora-ts/kernels';
import { timestepTransform, type TimestepTransformOptions, type VideoMeta } from './timestep-transform.js';

export type SampleMethod = 'uniform' | 'logit-normal';

export interface TimeSamplerConfig {
  /** sample_method: 'logit-normal' in every 1.3 DiT config; the class default is 'uniform'. */
  sampleMethod?: SampleMethod;
  /** use_discrete_timesteps: randint(0, T) (uniform only). */
  useDiscreteTimesteps?: boolean;
  /** use_timestep_transform (true in every 1.3 config). */
  useTimestepTransform?: boolean;
  /** transform_scale. RFLOW forces 1.0 for training whatever its own setting is. */
  transformScale?: number;
  scaleTemporal?: boolean;
  /** Logit-normal location and scale: t = sigmoid(loc + scale·N(0,1)). */
  loc?: number;
  scale?: number;
  uniformOverThreshold?: number | null;
  numTimesteps?: number;
  /** Dtype of the batch metadata for the shift (the reference's training batches are bf16). */
  metaDtype?: TimestepTransformOptions['metaDtype'];
}

export class TimeSampler {
  readonly config: Required<Omit<TimeSamplerConfig, 'uniformOverThreshold'>> & { uniformOverThreshold: number | null };

  constructor(config: TimeSamplerConfig = {}) {
    const sampleMethod = config.sampleMethod ?? 'uniform';
    if (sampleMethod !== 'uniform' && sampleMethod !== 'logit-normal') {
      throw new Error(`TimeSampler: sample_method '${String(sampleMethod)}' is not supported; use 'uniform' or 'logit-normal'.`);
    }
    if (config.useDiscreteTimesteps && sampleMethod !== 'uniform') {
      throw new Error(`TimeSampler: use_discrete_timesteps needs sample_method 'uniform' (got '${sampleMethod}').`);
    }
    this.config = {
      sampleMethod,
      useDiscreteTimesteps: config.useDiscreteTimesteps ?? false,
      useTimestepTransform: config.useTimestepTransform ?? false,
      transformScale: config.transformScale ?? 1.0,
      scaleTemporal: config.scaleTemporal ?? true,
      loc: config.loc ?? 0,
      scale: config.scale ?? 1,
      uniformOverThreshold: config.uniformOverThreshold ?? null,
      numTimesteps: config.numTimesteps ?? 1000,
      metaDtype: config.metaDtype ?? 'float32',
    };
  }

  /** `batch` timesteps in [0, T] (float32 values), shifted for `meta` when the transform is on. */
  sample(batch: number, rng: SeededRandom, meta?: Pick<VideoMeta, 'height' | 'width' | 'numFrames'>): number[] {
    const c = this.config;
    const T = c.numTimesteps;
    const t: number[] = [];
    for (let i = 0; i < batch; i++) {
      if (c.useDiscreteTimesteps) t.push(rng.int(0, T - 1));
      else if (c.sampleMethod === 'uniform') t.push(Math.fround(Math.fround(rng.uniform()) * T));
      else {
        // LogisticNormal with one component: sigmoid(loc + scale·z).
        const s = 1 / (1 + Math.exp(-(c.loc + c.scale * rng.normal())));
        t.push(Math.fround(Math.fround(s) * T));
      }
    }
    if (!c.useTimestepTransform) return t;
    if (!meta) throw new Error('TimeSampler.sample: use_timestep_transform needs the batch metadata (height, width, numFrames).');
    return timestepTransform(t, meta, {
      scale: c.transformScale,
      numTimesteps: T,
      scaleTemporal: c.scaleTemporal,
      uniformOverThreshold: c.uniformOverThreshold,
      metaDtype: c.metaDtype,
      rng,
    }).t;
  }
}
