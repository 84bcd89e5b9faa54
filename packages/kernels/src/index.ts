export { tf } from './tf.js';
export type { Tensor, Rank } from './tf.js';

export { initRuntime, describeRuntime, runtimeNotice } from './runtime.js';
export type { BackendName, RuntimeDescription, InitRuntimeOptions } from './runtime.js';

export { SeededRandom, mixSeed, toRandom } from './random.js';
export type { RandomState } from './random.js';

export { SafetensorsFile, SafetensorsError, readSafetensors, writeSafetensors, checkpointFiles } from './safetensors.js';
export {
  FileWriteError,
  OutputExistsError,
  writeFileAtomic,
  withAtomicFile,
  withAtomicFileSync,
  commitTempFile,
  tempPathFor,
  tempFileOwner,
  removeStaleTemps,
  describeStaleTemps,
  describeWriteError,
  checkOutputPath,
  isProcessAlive,
} from './files.js';
export type { AtomicWriteOptions, OutputCheckOptions, StaleTemp } from './files.js';
export { lockFolder, FolderLockedError } from './folder-lock.js';
export type { FolderLock, LockFolderOptions, LockHolder } from './folder-lock.js';
export type { SafetensorsDtype, TensorEntry, HostTensor, WritableTensor } from './safetensors.js';
export { openCheckpoint, readCheckpoint } from './checkpoint/reader.js';
export type { CheckpointReader, CheckpointTensorInfo, OpenCheckpointOptions } from './checkpoint/reader.js';
export { checkpointShards, CHECKPOINT_FOLDER_FILES } from './checkpoint/resolve.js';
export type { CheckpointShards } from './checkpoint/resolve.js';
export { CheckpointError } from './checkpoint/errors.js';
export { NonFiniteError, firstNonFinite, countNonFinite, describeNonFinite } from './finite.js';
export type { NonFiniteCount } from './finite.js';
export { TorchCheckpointFile } from './checkpoint/torch-file.js';
export type { TorchFileOptions } from './checkpoint/torch-file.js';
export { STATE_DICT_WRAPPERS } from './checkpoint/state-dict.js';

export { Module, ModuleList, Parameter, StateDictError, formatLoadReport, LOAD_REPORT_HINT, withShapesOnly } from './nn/module.js';
export type { ParameterOptions, BufferEntry, LoadReport, LoadOptions, StateDictInput, StateDictValue } from './nn/module.js';
export { loadModuleWeights } from './nn/load-weights.js';
export type { LoadModuleWeightsOptions, WeightTransform } from './nn/load-weights.js';
export { Linear } from './nn/linear.js';
export type { LinearOptions } from './nn/linear.js';
export { Conv2d, Conv3d } from './nn/conv.js';
export type { Conv2dOptions, Conv3dOptions } from './nn/conv.js';
export { LayerNorm, GroupNorm, RMSNorm } from './nn/norms.js';
export type { NormOptions } from './nn/norms.js';
export { SiLU, GELU, Dropout } from './nn/activations.js';
export { uniformFanIn } from './nn/init.js';

export { layerNorm, groupNorm, rmsNorm } from './ops/norms.js';
export { geluTanh, silu } from './ops/activations.js';
export { scaledDotProductAttention, attentionBias } from './ops/attention.js';
export type { AttentionOptions } from './ops/attention.js';
export { windowPartition, windowMerge } from './ops/window.js';
export type { WindowLayout, WindowPartition, WindowOptions } from './ops/window.js';
export { ropeFrequencies, ropeAngles, applyRotary } from './ops/rope.js';
export { layerNormModulate, gatedAdd } from './ops/modulate.js';
export { timestepEmbedding } from './ops/timestep-embedding.js';
export { causalPad3d, upsampleNearest3d, modulate, toChannelsLast, toChannelsFirst } from './ops/video.js';

export { setFusedKernelsEnabled, fusedKernelAvailable } from './fused/registry.js';
export { groupNormSilu } from './fused/group-norm-silu.js';
export { conv3dPadded } from './fused/conv3d.js';
export type { Conv3dPads } from './fused/conv3d.js';
export type { FusedKernelName, OptimKernelName } from './fused/registry.js';

export { AdamW } from './optim/adamw.js';
export type { AdamWOptions, AdamWState } from './optim/adamw.js';
export { Ema } from './optim/ema.js';
export { clipGradNorm, clipCoefficient, globalGradNorm } from './optim/clip-grad.js';
export { adamwUpdate, emaUpdate, globalNorm } from './optim/multi-tensor.js';
export type { AdamWConstants } from './optim/composites.js';
export { lrSchedule } from './optim/lr-schedule.js';
export { GradientAccumulator } from './optim/gradient-accumulator.js';
// tf.variableGrads with a backward that frees each gradient and saved tensor once nothing left needs it (same bits, lower peak).
export { freeingVariableGrads, freeingValueAndGrads } from './autograd/freeing-grads.js';
export type { LrSchedule, LrScheduleOptions } from './optim/lr-schedule.js';

export { singleProcessGroup } from './distributed/process-group.js';
export type { ProcessGroup, LaunchEnv, CollectiveArray, ReduceOp } from './distributed/process-group.js';
export { launchEnv, LaunchEnvError, LAUNCH_VARIABLES } from './distributed/launch-env.js';
export { initProcessGroup, wrapC10d } from './distributed/init.js';
export { inProcessGroups } from './distributed/in-process.js';
export type { InitProcessGroupOptions, C10dGroup, C10dConnectOptions } from './distributed/init.js';
export { averageGradients, averageStepGradients, meanOverRanks, DEFAULT_BUCKET_BYTES } from './distributed/average-gradients.js';
export { broadcastParameters } from './distributed/broadcast-parameters.js';
export type { AverageGradientsOptions } from './distributed/average-gradients.js';
export { shardOf, shardOwner, shardItems, unshard } from './distributed/shard.js';
export type { ShardLayout, ShardRank } from './distributed/shard.js';

export { loadParityCase, tensorDistance, compareParityOutput } from './parity.js';
export type {
  ParityCase,
  ParityCaseJson,
  ParityTolerance,
  ParityTensor,
  ParityOutput,
  ParityRunner,
  ParityComparison,
  ParityReport,
} from './parity.js';
