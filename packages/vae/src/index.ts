export { OpenSoraVAE, createVae, vaeShapes } from './vae.js';
export {
  parseVaeConfig,
  resolveVaeConfig,
  releasedArchitecture,
  encoderConfigSchema,
  decoderConfigSchema,
  vaeConfigSchema,
  OPENSORA_VAE_V1_3,
  TINY_VAE,
  VAE_PRESETS,
} from './config.js';
export type { VaeConfig, VaeConfigInput, VaeConfigSpec, EncoderConfig, DecoderConfig, CodecOptions } from './config.js';
export { ChunkedVideoCodec } from './chunked-codec.js';
export type { Recorder, ChunkProgress, EncodeOptions, DecodeOptions, EncodeResult, DecodedFrames } from './chunked-codec.js';
export { checkVideoSize, nearestFrameCounts } from './video-size.js';
export type { VideoSize, VideoSizeNames, CheckedVideoSize } from './video-size.js';
export { DiagonalGaussian } from './posterior.js';
export { normalizeLatent, unnormalizeLatent, VIDEO_LATENT_MEAN, VIDEO_LATENT_STD } from './latent-stats.js';
export { latentChannelStats, scaleLatentChannels } from './latent-scale.js';
export type { LatentChannelStats } from './latent-scale.js';
export type { LatentNormalization } from './latent-stats.js';
export { identifyVaeConfig, loadVaeWeights, VaeWeightsMismatchError } from './load-weights.js';
export type { LoadVaeWeightsOptions } from './load-weights.js';
export { VideoEncoder } from './encoder.js';
export { VideoDecoder } from './decoder.js';
export { CausalConv3dPlainAR } from './causal-conv3d.js';
export { Resnet3DBlock, vaeGroupNorm } from './resnet-block.js';
export { AttnBlock } from './attention.js';
export { MidBlock } from './mid-block.js';
export { Downsample2D, Downsample3D, Upsample2D, Upsample3D, Res3DBlockUpsample } from './resample.js';
export { tiledConv3d } from './tiled-conv3d.js';
export type { TilingOptions } from './tiled-conv3d.js';
export { VAELoss, createVaeLoss, hingeDLoss, vanillaDLoss, adoptWeight, adaptiveGeneratorWeight, generatorLoss, discriminatorLoss } from './losses.js';
export type { VaeLossOptions, VaeLossTerms, GanLossOptions } from './losses.js';
export { NLayerDiscriminator3D, BatchNorm3d } from './discriminator.js';
export type { DiscriminatorOptions } from './discriminator.js';
export { LPIPS, loadLpips } from './lpips.js';
export { psnr, ssim, ssimPlane, gaussianKernel, SSIM_WINDOW, SSIM_SIGMA } from './metrics.js';
