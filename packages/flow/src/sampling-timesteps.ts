// The timestep list of RFLOW.sample and the fixed timesteps of the eval-loss protocol.
import { linspaceF32, roundBf16, type HostFloat } from './bf16.js';
import { timestepTransform, type TimestepTransformOptions, type VideoMeta } from './timestep-transform.js';

export interface SamplingTimestepOptions extends Omit<TimestepTransformOptions, 'rng' | 'uniformOverThreshold'> {
  /** use_timestep_transform (default true, as the 1.3 inference configs). */
  useTimestepTransform?: boolean;
  /** use_discrete_timesteps: round each (1 - i/steps)*T to an integer first. */
  useDiscreteTimesteps?: boolean;
}

/**
 * t_i = (1 - i/steps) * T for i = 0..steps-1 (computed in float64, stored float32, as Python floats
 * put into a float32 tensor), then shifted by `timestepTransform` for `meta`.
 */
export function samplingTimesteps(steps: number, meta: Pick<VideoMeta, 'height' | 'width' | 'numFrames'>, options: SamplingTimestepOptions = {}): number[] {
  if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`samplingTimesteps: num_sampling_steps must be a positive integer, got ${steps}.`);
  const T = options.numTimesteps ?? 1000;
  let ts: number[] = [];
  for (let i = 0; i < steps; i++) {
    const v = (1.0 - i / steps) * T;
    ts.push(Math.fround(options.useDiscreteTimesteps ? Math.round(v) : v));
  }
  if (options.useTimestepTransform ?? true) ts = timestepTransform(ts, meta, options).t;
  return ts;
}

/**
 * The eval-loss timesteps linspace(0, T, n + 2)[1:-1], i.e. T*k/(n+1) for k = 1..n, untransformed.
 * With dtype 'bfloat16' they are rounded as the reference's eval script feeds them (91, 182, 272, ...).
 */
export function evalLossTimesteps(n = 10, options: { numTimesteps?: number; dtype?: HostFloat } = {}): number[] {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`evalLossTimesteps: num_eval_timesteps must be a positive integer, got ${n}.`);
  const ts = linspaceF32(0, options.numTimesteps ?? 1000, n + 2).slice(1, -1);
  return options.dtype === 'bfloat16' ? ts.map(roundBf16) : ts;
}
