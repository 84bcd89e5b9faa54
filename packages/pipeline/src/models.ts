// The three models of a run: the bundled demo model, a demo-model folder, or official-format
// checkpoints (a weights folder, or the DiT, VAE and T5 paths apart), with the files that made
// them (hashed into the sidecar) and the defaults each is meant to be sampled with. Each model is
// loaded by its own recipe so that `offload: 'model'` can keep one of them in memory at a time.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CachedTextEncoder, EmbeddingCache, loadTextEncoder, type TextEncoder, type TextEncoding } from '@opensora-ts/conditioning';
import { checkpointShards } from '@opensora-ts/kernels';
import { checkDemoModelFiles, checkDemoTextEncoder, demoModelPaths, demoTextEncoder, readDemoManifest, type DemoManifest } from '@opensora-ts/demo-model';
import { loadSTDiT3, parseSTDiT3Config, stdit3Preset, stdit3ConfigSchema, type STDiT3, type STDiT3ConfigInput } from '@opensora-ts/stdit';
import { ChunkedVideoCodec, checkVideoSize, createVae, loadVaeWeights, OPENSORA_VAE_V1_3, vaeConfigSchema, type CheckedVideoSize, type OpenSoraVAE, type VaeConfigInput, type VideoSize, type VideoSizeNames } from '@opensora-ts/vae';
import { resolveWeightsFolder, type WeightsLayout } from './weights-folder.js';

export interface ModelDefaults {
  /** Size when no --resolution is given. */
  height: number;
  width: number;
  numFrames: number;
  fps: number;
  steps: number;
  cfgScale: number;
  /** use_timestep_transform when the settings leave it unset. */
  useTimestepTransform: boolean;
}

/** 'none': every model stays loaded; 'model': one at a time (T5 freed before the DiT runs, the DiT before the VAE decodes). */
export type Offload = 'none' | 'model';
export const OFFLOAD_MODES = ['none', 'model'] as const;

export type ModelPart = 'vae' | 'text' | 'dit';

/** t2v.py: 720p 9:16, 113 frames at 24 fps, 30 steps, cfg 7.5. */
export const OFFICIAL_DEFAULTS: ModelDefaults = { height: 720, width: 1280, numFrames: 113, fps: 24, steps: 30, cfgScale: 7.5, useTimestepTransform: true };

/** How to build each model, and what is known of the run before any is built. */
interface Recipe {
  source: 'demo' | 'weights';
  files: { role: string; path: string }[];
  defaults: ModelDefaults;
  vaeConfig: unknown;
  demoManifest?: DemoManifest;
  /** The demo encoder's vocabulary (a tiny table, kept apart from the text model's residency). */
  demoVocabulary?: { unknownWords(prompt: string): string[]; knownWords(): ReadonlySet<string>; check(): Promise<string | null> };
  loadVae(): OpenSoraVAE;
  loadText(): TextEncoder;
  /** The DiT, sized by the text encoder (caption width and length) and the VAE (latent channels) where the recipe leaves that open. */
  loadDit(sizes: { zChannels: number; captionChannels: number; maxLength: number }): { stdit: STDiT3; config: unknown };
  /** Frees what the recipe itself holds (the demo vocabulary). */
  dispose?(): void;
}

function readJson(path: string): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`${path}: not valid JSON (${(err as Error).message}).`);
  }
}

function pick(obj: Record<string, unknown>, keys: Iterable<string>): Record<string, unknown> {
  const allowed = new Set(keys);
  return Object.fromEntries(Object.entries(obj).filter(([k]) => allowed.has(k)));
}

/** The models of a run, each loaded on first use; with offload 'model', using one frees the others. */
export class Models {
  readonly source: 'demo' | 'weights';
  readonly files: { role: string; path: string }[];
  readonly defaults: ModelDefaults;
  readonly demoManifest?: DemoManifest;
  /** Model configs as used (reference keys), for the sidecar; the DiT's is known once it is built. */
  readonly configs: { vae: unknown; stdit: unknown };
  private vaeModel: { vae: OpenSoraVAE; codec: ChunkedVideoCodec } | null = null;
  private textModel: { text: TextEncoder; encode: (p: readonly string[]) => Promise<TextEncoding> } | null = null;
  private ditModel: STDiT3 | null = null;
  private sizes: { zChannels?: number; captionChannels?: number; maxLength?: number } = {};
  private readonly onLoad: ((part: ModelPart) => void)[] = [];
  private readonly sizeChecks = new Map<string, CheckedVideoSize>();

  constructor(
    private readonly recipe: Recipe,
    readonly offload: Offload,
    private readonly textCache: string | null,
  ) {
    this.source = recipe.source;
    this.files = recipe.files;
    this.defaults = recipe.defaults;
    if (recipe.demoManifest) this.demoManifest = recipe.demoManifest;
    this.configs = { vae: recipe.vaeConfig, stdit: null };
  }

  /** Calls `f` each time a model is built (the pipeline counts loads per phase). */
  onModelLoad(f: (part: ModelPart) => void): void {
    this.onLoad.push(f);
  }

  /** The models in memory now. */
  resident(): ModelPart[] {
    return [...(this.vaeModel ? ['vae' as const] : []), ...(this.textModel ? ['text' as const] : []), ...(this.ditModel ? ['dit' as const] : [])];
  }

  /** Builds every model now (offload 'none'), so that a bad file fails before any work. */
  loadAll(): void {
    this.loadVae();
    this.loadText();
    this.loadDit();
  }

  private keepOnly(part: ModelPart): void {
    if (this.offload !== 'model') return;
    for (const p of this.resident()) if (p !== part) this.release(p);
  }

  private loaded(part: ModelPart): void {
    for (const f of this.onLoad) f(part);
  }

  private loadVae(): { vae: OpenSoraVAE; codec: ChunkedVideoCodec } {
    this.keepOnly('vae');
    if (!this.vaeModel) {
      const vae = this.recipe.loadVae();
      this.vaeModel = { vae, codec: new ChunkedVideoCodec(vae) };
      this.sizes.zChannels = vae.zChannels;
      this.loaded('vae');
    }
    return this.vaeModel;
  }

  private loadText(): { text: TextEncoder; encode: (p: readonly string[]) => Promise<TextEncoding> } {
    this.keepOnly('text');
    if (!this.textModel) {
      const text = this.recipe.loadText();
      // The null caption is the DiT's y_embedding: set it while the DiT is here (offload 'none').
      if (this.ditModel) text.setNullEmbedding(this.ditModel.yEmbedder.yEmbedding.tensor!);
      const cache = this.textCache ? new EmbeddingCache(this.textCache, text) : null;
      this.textModel = { text, encode: cache ? (p) => cache.encode(p) : (p) => text.encode(p) };
      this.sizes.captionChannels = text.dim;
      this.sizes.maxLength = text.maxLength;
      this.loaded('text');
    }
    return this.textModel;
  }

  private loadDit(): STDiT3 {
    // Sizes the DiT takes from the others: learnt by loading them once (each freed again under offload).
    if (this.sizes.zChannels === undefined) this.loadVae();
    if (this.sizes.captionChannels === undefined || this.sizes.maxLength === undefined) this.loadText();
    this.keepOnly('dit');
    if (!this.ditModel) {
      const { stdit, config } = this.recipe.loadDit({ zChannels: this.sizes.zChannels!, captionChannels: this.sizes.captionChannels!, maxLength: this.sizes.maxLength! });
      this.ditModel = stdit;
      this.configs.stdit = config;
      this.textModel?.text.setNullEmbedding(stdit.yEmbedder.yEmbedding.tensor!);
      this.loaded('dit');
    }
    return this.ditModel;
  }

  get vae(): OpenSoraVAE {
    return this.loadVae().vae;
  }

  get codec(): ChunkedVideoCodec {
    return this.loadVae().codec;
  }

  get text(): TextEncoder {
    return this.loadText().text;
  }

  get stdit(): STDiT3 {
    return this.loadDit();
  }

  /**
   * The VAE's verdict on a video size (vae's checkVideoSize) and its latent channels. Remembered, so
   * that under offload a later check does not load the VAE again between the text and DiT phases.
   */
  checkSize(size: VideoSize, names: VideoSizeNames = {}): CheckedVideoSize & { zChannels: number } {
    const key = `${size.numFrames}x${size.height}x${size.width}`;
    let checked = this.sizeChecks.get(key);
    if (!checked) {
      checked = checkVideoSize(this.codec, size, names);
      this.sizeChecks.set(key, checked);
    }
    return { ...checked, zChannels: this.sizes.zChannels! };
  }

  /** Encodes prompts (through the text cache when one is set). */
  encode(prompts: readonly string[]): Promise<TextEncoding> {
    return this.loadText().encode(prompts);
  }

  /** Demo model only: words of a prompt the demo encoder does not know. */
  get unknownWords(): ((prompt: string) => string[]) | undefined {
    const v = this.recipe.demoVocabulary;
    return v ? (p) => v.unknownWords(p) : undefined;
  }

  get knownWords(): (() => string[]) | undefined {
    const v = this.recipe.demoVocabulary;
    return v ? () => [...v.knownWords()] : undefined;
  }

  /** Demo model only: a message when the text encoder no longer gives the features the DiT was trained on. */
  get checkText(): (() => Promise<string | null>) | undefined {
    const v = this.recipe.demoVocabulary;
    return v ? () => v.check() : undefined;
  }

  /** Frees one model (a later use loads it again). */
  release(part: ModelPart): void {
    if (part === 'vae' && this.vaeModel) {
      this.vaeModel.vae.dispose();
      this.vaeModel = null;
    } else if (part === 'text' && this.textModel) {
      this.textModel.text.dispose();
      this.textModel = null;
    } else if (part === 'dit' && this.ditModel) {
      this.ditModel.dispose();
      this.ditModel = null;
    }
  }

  dispose(): void {
    for (const p of this.resident().reverse()) this.release(p);
    this.recipe.dispose?.();
  }
}

/** A checkpoint's files for the sidecar's hashes: the file, or the index and each shard. */
function checkpointFileRoles(role: string, path: string): { role: string; path: string }[] {
  const { index, files } = checkpointShards(path);
  return index ? [{ role, path: index }, ...files.map((f) => ({ role: `${role}-shard`, path: f }))] : files.map((f) => ({ role, path: f }));
}

/** The files of a T5 folder that decide its output, for the sidecar's hashes. */
function textEncoderFiles(dir: string): { role: string; path: string }[] {
  const decides = (f: string) => f.endsWith('.safetensors') || f.endsWith('.bin') || f.endsWith('.json') || f === 'spiece.model';
  return readdirSync(dir).sort().filter(decides).map((f) => ({ role: 't5', path: join(dir, f) }));
}

function demoRecipe(dir: string | undefined, textEncoder: string | null): Recipe {
  const paths = demoModelPaths(dir);
  checkDemoModelFiles(paths);
  const m = readDemoManifest(paths.manifest);
  const s = m.sampling;
  const stditConfig = parseSTDiT3Config(m.stdit, `${paths.manifest} stdit`);
  // The demo encoder's vocabulary: a seeded table, cheap to keep for prompt warnings at any offload.
  const vocabulary = textEncoder === null ? demoTextEncoder(m) : null;
  const recipe: Recipe = {
    source: 'demo',
    files: [
      { role: 'demo-manifest', path: paths.manifest },
      { role: 'vae', path: paths.vae },
      { role: 'stdit', path: paths.stdit },
    ],
    defaults: { height: s.height, width: s.width, numFrames: s.num_frames, fps: s.fps, steps: s.num_sampling_steps, cfgScale: s.cfg_scale, useTimestepTransform: s.use_timestep_transform },
    vaeConfig: m.vae,
    demoManifest: m,
    loadVae() {
      const vae = createVae(m.vae as VaeConfigInput);
      try {
        loadVaeWeights(vae, paths.vae);
      } catch (err) {
        vae.dispose();
        throw err;
      }
      return vae;
    },
    loadText: () => demoTextEncoder(m),
    loadDit: () => ({ stdit: loadSTDiT3(paths.stdit, { config: m.stdit }), config: m.stdit }),
  };
  if (vocabulary) {
    recipe.demoVocabulary = {
      unknownWords: (p) => vocabulary.unknownWords(p),
      knownWords: () => vocabulary.knownWords(),
      check: () => checkDemoTextEncoder({ manifest: m, textEncoder: vocabulary }),
    };
    recipe.dispose = () => vocabulary.dispose();
    return recipe;
  }
  // The demo DiT with another text encoder: it must give the DiT's caption width.
  const source = textEncoder!;
  const load = () => {
    try {
      return loadTextEncoder(source, { maxLength: stditConfig.model_max_length, captionChannels: stditConfig.caption_channels });
    } catch (err) {
      throw new Error(`--text-encoder ${source}: ${(err as Error).message}${source === 'demo' ? '' : ' For the released Open-Sora 1.3 DiT, pass its checkpoints with --weights.'}`);
    }
  };
  return { ...recipe, files: [...recipe.files, ...(source === 'demo' ? [] : textEncoderFiles(source))], loadText: load };
}

function officialRecipe(layout: WeightsLayout, textEncoder: string | null): Recipe {
  const files: { role: string; path: string }[] = [];
  const vaeCfg: VaeConfigInput = { ...OPENSORA_VAE_V1_3, ...(layout.vaeConfig ? pick(readJson(layout.vaeConfig), Object.keys(vaeConfigSchema.shape)) : {}) };
  delete (vaeCfg as Record<string, unknown>).from_pretrained;
  files.push(...checkpointFileRoles('vae', layout.vae));
  if (layout.vaeConfig) files.push({ role: 'vae-config', path: layout.vaeConfig });
  // The text side: as the reference's inference script, the DiT takes its caption size and length
  // from the text encoder and its channels from the VAE.
  const t5 = textEncoder ?? layout.t5;
  let loadText: () => TextEncoder;
  if (t5) {
    // Caption length: the DiT's (its config.json), else the reference's 300.
    const maxLength = fileStditMaxLength(layout.stditConfig) ?? 300;
    loadText = () => loadTextEncoder(t5, { maxLength });
    files.push(...textEncoderFiles(t5));
  } else {
    const dir = layout.embeddings!;
    loadText = () => CachedTextEncoder.fromFolder(dir);
    for (const f of readdirSync(dir).sort()) if (f.endsWith('.safetensors') && !f.startsWith('.')) files.push({ role: 'text-embeddings', path: join(dir, f) });
  }
  // STDiT3 config as STDiT3-XL/2 with from_pretrained builds it: the folder's config.json (else the
  // registry's XL/2 sizes), the 1.3 inference options where the file is silent, then the sizes
  // that come from the VAE and the text encoder.
  const fileCfg = layout.stditConfig ? pick(readJson(layout.stditConfig), Object.keys(stdit3ConfigSchema.shape)) : null;
  files.push(...checkpointFileRoles('stdit', layout.stdit));
  if (layout.stditConfig) files.push({ role: 'stdit-config', path: layout.stditConfig });
  return {
    source: 'weights',
    files,
    defaults: OFFICIAL_DEFAULTS,
    vaeConfig: vaeCfg,
    loadVae() {
      const vae = createVae(vaeCfg);
      try {
        loadVaeWeights(vae, layout.vae);
      } catch (err) {
        vae.dispose();
        throw err;
      }
      return vae;
    },
    loadText,
    loadDit(sizes) {
      const base = fileCfg ?? (stdit3Preset('STDiT3-XL/2') as Record<string, unknown>);
      const inference13 = { qk_norm: true, kernel_size: [8, 8, -1] as [number, number, number], use_spatial_rope: true };
      const config = { ...inference13, ...base, in_channels: sizes.zChannels, caption_channels: sizes.captionChannels, model_max_length: sizes.maxLength } as STDiT3ConfigInput;
      parseSTDiT3Config(config, layout.stditConfig ?? 'STDiT3-XL/2 preset');
      // loadSTDiT3 merges a folder's config.json under `config`; ours already holds it.
      return { stdit: loadSTDiT3(layout.stdit, { config }), config };
    },
  };
}

/** model_max_length of a DiT config.json, when it sets one (the caption length the DiT was trained with). */
function fileStditMaxLength(path: string | null): number | null {
  if (!path) return null;
  const v = readJson(path).model_max_length;
  return typeof v === 'number' ? v : null;
}

/** The checkpoint of a `dit` or `vae` path (a file, an index, or a folder holding one) and the folder's config.json. */
function checkpointPath(what: string, path: string): { path: string; config: string | null } {
  if (!existsSync(path)) throw new Error(`${what} ${path}: no such file or folder; pass the checkpoint file (model.safetensors, pytorch_model.bin, an *.index.json) or the folder holding it.`);
  let found: ReturnType<typeof checkpointShards>;
  try {
    found = checkpointShards(path);
  } catch (err) {
    throw new Error(`${what} ${path}: ${(err as Error).message}`);
  }
  // The folder's config.json (Hugging Face ships it beside model.safetensors).
  const folder = statSync(path).isDirectory() ? path : dirname(path);
  const config = existsSync(join(folder, 'config.json')) ? join(folder, 'config.json') : null;
  return { path: found.index ?? found.files[0]!, config };
}

/**
 * Where the models come from: the bundled demo model (nothing given, or weights 'demo'), a
 * demo-model folder (model.json beside vae/stdit safetensors), a weights folder in the official
 * layout, or the DiT, VAE and text encoder paths apart.
 */
export interface ModelSources {
  /** null or 'demo' = the bundled demo model; else a folder (official layout, or a demo-model folder). */
  weights?: string | null;
  /** The STDiT3 checkpoint (OpenSora-STDiT-v4): a file, an *.index.json, or its folder (config.json optional). Needs `vae` and `textEncoder`. */
  dit?: string | null;
  /** The VAE checkpoint (OpenSora-VAE-v1.3): a file, an *.index.json, or its folder (config.json optional). */
  vae?: string | null;
  /** A T5 folder as published (DeepFloyd/t5-v1_1-xxl), or 'demo'; replaces the weights folder's t5/. */
  textEncoder?: string | null;
  textCache?: string | null;
  offload?: Offload;
}

export function loadModels(sources: ModelSources | string | null): Models {
  const o: ModelSources = typeof sources === 'object' && sources !== null ? sources : { weights: sources };
  const { weights = null, dit = null, vae = null, textEncoder = null, textCache = null, offload = 'none' } = o;
  if (!OFFLOAD_MODES.includes(offload)) throw new Error(`offload '${String(offload)}': expected ${OFFLOAD_MODES.map((m) => `'${m}'`).join(' or ')} ('model' keeps one model in memory at a time).`);
  let recipe: Recipe;
  if (dit !== null || vae !== null) {
    if (weights !== null && weights !== 'demo') throw new Error(`weights ${weights} and dit/vae paths were both given; pass either a weights folder or the dit, vae and textEncoder paths.`);
    if (dit === null || vae === null) throw new Error(`${dit === null ? 'dit' : 'vae'}: missing; the DiT and the VAE are given together (official checkpoints: hpcai-tech/OpenSora-STDiT-v4 and hpcai-tech/OpenSora-VAE-v1.3), with textEncoder (a T5 folder, DeepFloyd/t5-v1_1-xxl).`);
    if (textEncoder === null) throw new Error('textEncoder: missing; with dit and vae paths, pass the T5 folder (DeepFloyd/t5-v1_1-xxl as published: config.json, spiece.model, weights).');
    const d = checkpointPath('dit', dit);
    const v = checkpointPath('vae', vae);
    recipe = officialRecipe({ root: '', vae: v.path, vaeConfig: v.config, stdit: d.path, stditConfig: d.config, t5: null, embeddings: null }, textEncoder);
  } else if (weights === null || weights === 'demo') {
    recipe = demoRecipe(undefined, textEncoder);
  } else {
    if (!existsSync(weights)) throw new Error(`--weights ${weights}: no such folder.`);
    recipe = existsSync(join(weights, 'model.json'))
      ? demoRecipe(weights, textEncoder)
      : officialRecipe(resolveWeightsFolder(weights, { textEncoder: textEncoder !== null }), textEncoder);
  }
  const models = new Models(recipe, offload, textCache);
  if (offload === 'none') {
    try {
      models.loadAll();
    } catch (err) {
      models.dispose();
      throw err;
    }
  }
  return models;
}
