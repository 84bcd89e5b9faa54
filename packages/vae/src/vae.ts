// OpenSoraVAE_V1_3_Pipline's module tree: `encoder.*` and `decoder.*`, no other wrapper, so an
// official state dict loads as is. The chunked encode/decode lives in ChunkedVideoCodec.
import { Module, tf, withShapesOnly } from '@opensora-ts/kernels';
import { parseVaeConfig, resolveVaeConfig, type VaeConfig, type VaeConfigInput, type VaeConfigSpec } from './config.js';
import { VideoDecoder } from './decoder.js';
import { VideoEncoder } from './encoder.js';
import type { TilingOptions } from './tiled-conv3d.js';

export class OpenSoraVAE extends Module {
  readonly encoder: VideoEncoder;
  readonly decoder: VideoDecoder;

  /**
   * @param configSource where the config came from, for messages: a preset ("VAE preset 'tiny'"),
   *   a file path, or 'VAE config' for an object.
   */
  constructor(
    readonly config: VaeConfig,
    readonly configSource = 'VAE config',
  ) {
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
 * Builds the VAE from a preset name ('OpenSoraVAE_V1_3', 'tiny'), a path to a JSON config (a VAE
 * config, a manifest with a `vae` key such as the demo model's model.json, or a Hugging Face
 * config.json), or a config object of either shape. Weights are randomly initialised; load a
 * checkpoint with loadVaeWeights.
 */
export function createVae(config: VaeConfigSpec = 'OpenSoraVAE_V1_3', overrides: Partial<VaeConfigInput> = {}): OpenSoraVAE {
  const { config: input, source } = resolveVaeConfig(config);
  return new OpenSoraVAE(parseVaeConfig({ ...(input as object), ...overrides }, source), source);
}

/** The same module tree with shapes only (no memory): state-dict keys, shapes and counts of big presets. */
export function vaeShapes(config: VaeConfigSpec = 'OpenSoraVAE_V1_3'): OpenSoraVAE {
  return withShapesOnly(() => createVae(config));
}
