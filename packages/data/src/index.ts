export { ASPECT_RATIOS, ASPECT_RATIO_MAP, getAspectRatios, getClosestRatio, getImageSize, getNumPixels, resolutionNames } from './aspect.js';
export type { AspectRatioEntry, AspectTable } from './aspect.js';
export { Bucket, bucketConfigSchema, bucketKey, parseBucketKey } from './bucket.js';
export type { BucketConfig, BucketId, KeepProb } from './bucket.js';
export { NumpyRandom, seedSequenceState } from './numpy-random.js';

export { parseCsv, formatCsv, writeCsv } from './csv.js';
export type { CsvTable } from './csv.js';
export { METADATA_COLUMNS, SkipReport, readMetadata } from './metadata.js';
export type { ColumnFilter, Metadata, MetadataRow, ReadMetadataOptions, SkippedRow } from './metadata.js';
export { scanFolder, scanToCsv } from './scan.js';
export type { ScanOptions, ScanResult } from './scan.js';

export { MediaError, ffmpegPath, ffprobePath, formatCommand, lastLine, probeMedia, runTool } from './ffmpeg.js';
export type { ProbeInfo, ProcessResult } from './ffmpeg.js';
export { IMAGE_EXTENSIONS, IMG_FPS, VIDEO_EXTENSIONS, decodeFrames, loadSample, mediaType, readImage, writePng, writeVideo } from './video-io.js';
export type { DecodeOptions, EncodeOptions, Frames, LoadOptions, Sample } from './video-io.js';
export { cthwToThwc, resizeCropImage, resizeCropVideo, temporalCropIndices, toUint8 } from './transforms.js';
export type { Clip, ClipLayout, RandomInt } from './transforms.js';
export { pyRound, resizeBicubicPil, resizeBilinear } from './resize.js';

export { BucketSampler } from './sampler.js';
export type { Batch, BatchSampler, SampleShape, SamplerExplanation, SamplerOptions, SamplerState } from './sampler.js';
export { FixedSizeSampler } from './fixed-sampler.js';
export type { FixedSizeOptions } from './fixed-sampler.js';
export { EmptyEpochError, VideoLoader } from './loader.js';
export { DecodedVideoCache } from './decoded-video-cache.js';
export type { LoadedBatch, LoadedItem, LoaderOptions } from './loader.js';
export { LatentCache } from './latent-cache.js';
export type { CacheEntry, LatentCacheOptions } from './latent-cache.js';
export { cachePlan, CacheItemSampler } from './cache-plan.js';
export type { CacheItem } from './cache-plan.js';

export { CAMERA_MOTIONS, DEFAULT_SCENE_WEIGHTS, SHAPES_WORLD_COLUMNS, SHAPE_COLORS, SHAPE_KINDS, planShapesClip, renderShapesClip, writeShapesWorld } from './shapes-world.js';
export type { CameraMotion, Direction, RenderedClip, SceneKind, ShapeInstance, ShapeKind, ShapesClip, ShapesWorldOptions, ShapesWorldRow } from './shapes-world.js';
export { denseFlow, toGrey } from './optical-flow.js';
export type { FlowField, FlowOptions, GreyFrame } from './optical-flow.js';
export { analyzeFrames, analyzeVideo, classifyFlow, voteCameraMotion } from './motion.js';
export type { CameraLabel, ClipCameraLabel, KnownGeometry, MotionOptions, MotionResult } from './motion.js';
