export { roundBf16, roundF32, roundTo, linspaceF32 } from './bf16.js';
export type { HostFloat } from './bf16.js';
// The seeded generator flow's options take lives in kernels; re-exported for flow's callers.
export { SeededRandom, toRandom } from '@opensora-ts/kernels';
export { timestepTransform } from './timestep-transform.js';
export type { VideoMeta, TimestepTransformOptions, TransformedTimesteps } from './timestep-transform.js';
export { TimeSampler } from './time-sampler.js';
export type { SampleMethod, TimeSamplerConfig } from './time-sampler.js';
export { samplingTimesteps, evalLossTimesteps } from './sampling-timesteps.js';
export type { SamplingTimestepOptions } from './sampling-timesteps.js';
export { addNoise, timestepValues } from './add-noise.js';
export { velocityOf } from './model.js';
export type { ModelFn, AsyncModelFn, ModelConditioning, TextConditioning } from './model.js';
export { trainingLoss, meanFlat } from './loss.js';
export { SAMPLE_STREAM, sampleSeeds, streamSeed, sampleRandoms, rowNormalTensor } from './sample-seeds.js';
export type { SampleStream } from './sample-seeds.js';
export type { TrainingLossOptions, TrainingLossResult } from './loss.js';
export {
  MASK_TYPES,
  DROP_CONDITIONS,
  STAGE1_HQ_MASK_TYPES,
  ADAPT_I2V_MASK_TYPES,
  DEFAULT_DROP_CONDITION,
  chooseMaskType,
  chooseDropCondition,
  trainingMaskIndex,
  drawTrainingCondition,
  corruptReference,
  normalizeFrameIndex,
  conditionMask,
  conditionFrameWeights,
} from './train-conditioning.js';
export type { MaskType, DropCondition, TrainingCondition } from './train-conditioning.js';
export { oscillationScale, fixGuidanceFlaw, imageGuidanceRamp } from './guidance.js';
export { RFlowSampler, OPEN_SORA_13_SAMPLER } from './sampler.js';
export type { RFlowSamplerConfig, SampleOptions, SampleProgress } from './sampler.js';
export { parseMaskStrategy, findNearestPoint, resolveMaskStrategyEntry, applyMaskStrategy, appendGenerated } from './mask-strategy.js';
export type { MaskStrategyEntry } from './mask-strategy.js';
export { promptForLoop, extendedLatentLength, mergeClips, prepRefAndMask, prepRefAndUpdateMaskInLoop } from './extension.js';
export type { CondType } from './extension.js';
export { sampleClips } from './clips.js';
export type { SampleClipsOptions } from './clips.js';
export { evalBucketLoss } from './eval-loss.js';
export type { EvalBatch, EvalLossOptions, EvalLossResult } from './eval-loss.js';
