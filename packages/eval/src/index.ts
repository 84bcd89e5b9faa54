export { checkVideo, checkSameGeometry, frameUnit, isByteArray } from './frames.js';
export type { PixelArray, Video } from './frames.js';
export { psnrPerFrame } from './psnr.js';
export { ssimPerFrame } from './ssim.js';
export { reconstructionMetrics, pairMetrics, combinePairMetrics } from './vae-metrics.js';
export type { MetricSeries, PairMetrics, PerceptualDistance, ReconstructionMetrics, ReconstructionOptions } from './vae-metrics.js';
export { runSharded, gatherOutcomes, ShardedWorkError } from './sharded.js';
export type { RunShardedOptions } from './sharded.js';

export { evalLossConfigSchema, parseEvalLossConfig, evalBuckets, OPENSORA_13_EVAL_LOSS } from './eval-loss-config.js';
export type { EvalLossConfig, EvalBucket } from './eval-loss-config.js';
export { runEvalLoss, evalLossTables } from './eval-loss.js';
export type { BatchLosses, BucketLoss, EvalLossReport, EvalLossProgress, EvalLossSource, RunEvalLossOptions } from './eval-loss.js';
export { loadEvalBatches, evalBatchCount } from './eval-data.js';
export { ItemStore } from './item-store.js';
export type { EvalEncoders, EvalDataOptions } from './eval-data.js';

export { parseShapesPrompt } from './shapes-prompt.js';
export type { ShapesPromptIntent } from './shapes-prompt.js';
export { classifyPixel, paletteLabels, paletteNames, colorHistogram } from './foreground.js';
export type { PaletteOptions } from './foreground.js';
export { checkShapesAdherence, summarizeAdherence, toByteFrames } from './adherence.js';
export type { AdherenceOptions, AdherenceResult, AdherenceSummary } from './adherence.js';
export { temporalFlickering, motionSmoothnessEstimate, dynamicDegreeEstimate } from './generation-metrics.js';
export type { DynamicDegreeResult, FlowEstimateOptions } from './generation-metrics.js';
export { shapesPromptSuite, groundTruthSampler, HELD_OUT_INDEX_OFFSET } from './sampler.js';
export type { VideoSampler, ShapesPrompt } from './sampler.js';
export { scoreShapesSamples } from './samples-eval.js';
export type { ScoreSamplesOptions } from './samples-eval.js';
export { readPromptSuite, vbenchFileName, writeVBenchSamples, VBENCH_SAMPLES_PER_PROMPT } from './vbench.js';
export type { VBenchWriteOptions } from './vbench.js';

export { RESULTS_FORMAT, newResults, readResults, writeResults } from './results.js';
export type { EvalResults, SampleScore, SamplesResults } from './results.js';
export { writeReport } from './report.js';
export type { ReportOptions, WrittenReport } from './report.js';
export { lineChartSpec, groupedBarSpec, renderSvg, renderPng, svgToPng, PLOT_FONT } from './plots.js';
export type { LineSeries, BarDatum, PlotText } from './plots.js';
