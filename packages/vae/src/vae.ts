// OpenSoraVAE_V1_3_Pipline's module tree: `encoder.*` and `decoder.*`, no other wrapper, so an
// official state dict loads as is. The chunked encode/decode lives in ChunkedVideoCodec.
import { Module, tf, withShapesOnly } from '@opensora-ts/kernels';
import { parseVaeConfig, VAE_PRESETS, type VaeConfig, type VaeConfigInput } from './config.js';
import { VideoDecoder } from './decoder.js';
import { VideoEncoder } from './encoder.js';
import type { TilingOptions } from './tiled-conv3d.js';

export class OpenSoraVAE extends Module {
  readonly encoder: VideoEncoder;
  readonly decoder: VideoDecoder;

  constructor(readonly config: VaeConfig) {
    super();
    // Built inside tidy: tf.variable(init) keeps its init tensor alive otherwise (one leak per parameter).
    let encoder: VideoEncoder | undefined;
    let decoder: VideoDecoder | undefined;
    tf.tidy(() => {
      encoder = new VideoEncoder(config.encoder);
      decoder = new VideoDecoder(config.decoder);
    });
    this.encoder = this.registerModule('encoder', encoder!);
    this.decoder = this.registerModule('decoder', decoder!);
    this.setTiling(config.use_tiled_conv3d ? { tileSize: config.tile_size, tiledDim: config.tiled_dim, numTiles: config.num_tiles } : null);
  }

  /** Latent channels (z_channels). */
  get zChannels(): number {
    return this.config.encoder.z_channels;
  }

  /** Pixels per latent cell along (T within a chunk, H, W). */
  get compression(): [number, number, number] {
    const e = this.config.encoder;
    const t = 2 ** e.ch_mult.slice(0, -1).filter((_, i) => e.down_sampling_layer.includes(i)).length;
    const s = 2 ** (e.ch_mult.length - 1);
    return [t, s, s];
  }

  /** Turns TiledConv3d on (with these options) or off for every stride-1 conv and decoder.conv_out. */
  setTiling(tiling: TilingOptions | null): void {
    this.encoder.enableTiling(tiling);
    this.decoder.enableTiling(tiling);
  }
}

/**
 * Builds the VAE from a preset name ('OpenSoraVAE_V1_3', 'tiny') or a config object (the
 * reference's keys). Weights are randomly initialised; load a checkpoint with loadVaeWeights.
 */
export function createVae(config: string | VaeConfigInput | VaeConfig = 'OpenSoraVAE_V1_3', overrides: Partial<VaeConfigInput> = {}): OpenSoraVAE {
  let input: unknown = config;
  if (typeof config === 'string') {
    const preset = VAE_PRESETS[config];
    if (!preset) throw new Error(`unknown VAE preset '${config}'; expected one of ${Object.keys(VAE_PRESETS).join(', ')}, or a config object.`);
    input = preset;
  }
  return new OpenSoraVAE(parseVaeConfig({ ...(input as object), ...overrides }));
}

/** The same module tree with shapes only (no memory): state-dict keys, shapes and counts of big presets. */
export function vaeShapes(config: string | VaeConfigInput = 'OpenSoraVAE_V1_3'): OpenSoraVAE {
  return withShapesOnly(() => createVae(config));
}
