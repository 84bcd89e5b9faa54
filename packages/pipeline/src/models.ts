// The three models of a run: the bundled demo model (no --weights) or official-format checkpoints
// from a --weights folder, with the files that made them (hashed into the sidecar) and the
// defaults each is meant to be sampled with.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CachedTextEncoder, EmbeddingCache, loadTextEncoder, type TextEncoder, type TextEncoding } from '@opensora-ts/conditioning';
import { checkpointShards } from '@opensora-ts/kernels';
import { checkDemoTextEncoder, loadDemoModel, type DemoManifest } from '@opensora-ts/demo-model';
import { loadSTDiT3, parseSTDiT3Config, stdit3Preset, stdit3ConfigSchema, type STDiT3, type STDiT3ConfigInput } from '@opensora-ts/stdit';
import { ChunkedVideoCodec, createVae, loadVaeWeights, OPENSORA_VAE_V1_3, vaeConfigSchema, type OpenSoraVAE, type VaeConfigInput } from '@opensora-ts/vae';
import { resolveWeightsFolder } from './weights-folder.js';

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

export interface Models {
  source: 'demo' | 'weights';
  vae: OpenSoraVAE;
  codec: ChunkedVideoCodec;
  stdit: STDiT3;
  text: TextEncoder;
  /** Encodes prompts (through the text cache when one is set). */
  encode(prompts: readonly string[]): Promise<TextEncoding>;
  /** Files whose bytes decide the output, for hashing: role -> paths. */
  files: { role: string; path: string }[];
  defaults: ModelDefaults;
  /** Demo model only: words of a prompt the demo encoder does not know. */
  unknownWords?: (prompt: string) => string[];
  knownWords?: () => string[];
  demoManifest?: DemoManifest;
  /** Demo model only: a message when the text encoder no longer gives the features the DiT was trained on. */
  checkText?: () => Promise<string | null>;
  /** Model configs as used (reference keys), for the sidecar. */
  configs: { vae: unknown; stdit: unknown };
  dispose(): void;
}

/** t2v.py: 720p 9:16, 113 frames at 24 fps, 30 steps, cfg 7.5. */
export const OFFICIAL_DEFAULTS: ModelDefaults = { height: 720, width: 1280, numFrames: 113, fps: 24, steps: 30, cfgScale: 7.5, useTimestepTransform: true };

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

function withCache(text: TextEncoder, cacheDir: string | null): (p: readonly string[]) => Promise<TextEncoding> {
  if (!cacheDir) return (p) => text.encode(p);
  const cache = new EmbeddingCache(cacheDir, text);
  return (p) => cache.encode(p);
}

function demoModels(textCache: string | null, dir?: string, textEncoder: string | null = null): Models {
  const demo = loadDemoModel(dir);
  const m = demo.manifest;
  const s = m.sampling;
  const models: Models = {
    source: 'demo',
    vae: demo.vae,
    codec: new ChunkedVideoCodec(demo.vae),
    stdit: demo.stdit,
    text: demo.textEncoder,
    encode: withCache(demo.textEncoder, textCache),
    files: [
      { role: 'demo-manifest', path: demo.paths.manifest },
      { role: 'vae', path: demo.paths.vae },
      { role: 'stdit', path: demo.paths.stdit },
    ],
    defaults: { height: s.height, width: s.width, numFrames: s.num_frames, fps: s.fps, steps: s.num_sampling_steps, cfgScale: s.cfg_scale, useTimestepTransform: s.use_timestep_transform },
    unknownWords: (p) => demo.textEncoder.unknownWords(p),
    knownWords: () => [...demo.textEncoder.knownWords()],
    demoManifest: m,
    checkText: () => checkDemoTextEncoder(demo),
    configs: { vae: m.vae, stdit: m.stdit },
    dispose: () => demo.dispose(),
  };
  return textEncoder === null ? models : withTextEncoder(models, textEncoder, textCache);
}

/** The demo model with another text encoder (it must give the DiT's caption width). */
function withTextEncoder(models: Models, source: string, textCache: string | null): Models {
  let text: TextEncoder;
  try {
    text = loadTextEncoder(source, { maxLength: models.stdit.config.model_max_length, captionChannels: models.stdit.config.caption_channels });
  } catch (err) {
    models.dispose();
    throw new Error(`--text-encoder ${source}: ${(err as Error).message}${source === 'demo' ? '' : ' For the released Open-Sora 1.3 DiT, pass its checkpoints with --weights.'}`);
  }
  text.setNullEmbedding(models.stdit.yEmbedder.yEmbedding.tensor!);
  const { unknownWords: _u, knownWords: _k, checkText: _c, ...rest } = models;
  return {
    ...rest,
    text,
    encode: withCache(text, textCache),
    files: [...models.files, ...textEncoderFiles(source)],
    dispose: () => {
      text.dispose();
      models.dispose();
    },
  };
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

function folderModels(root: string, textCache: string | null, textEncoder: string | null): Models {
  const layout = resolveWeightsFolder(root, { textEncoder: textEncoder !== null });
  const files: { role: string; path: string }[] = [];
  const vaeCfg: VaeConfigInput = { ...OPENSORA_VAE_V1_3, ...(layout.vaeConfig ? pick(readJson(layout.vaeConfig), Object.keys(vaeConfigSchema.shape)) : {}) };
  delete (vaeCfg as Record<string, unknown>).from_pretrained;
  const vae = createVae(vaeCfg);
  const disposers: (() => void)[] = [() => vae.dispose()];
  const cleanup = () => disposers.reverse().forEach((d) => d());
  try {
    loadVaeWeights(vae, layout.vae);
    files.push(...checkpointFileRoles('vae', layout.vae));
    if (layout.vaeConfig) files.push({ role: 'vae-config', path: layout.vaeConfig });

    // The text side first: as the reference's inference script, the DiT takes its caption size
    // and length from the text encoder and its channels from the VAE.
    let text: TextEncoder;
    const t5 = textEncoder ?? layout.t5;
    if (t5) {
      // Caption length: the DiT's (its config.json), else the reference's 300.
      text = loadTextEncoder(t5, { maxLength: fileStditMaxLength(layout.stditConfig) ?? 300 });
      files.push(...textEncoderFiles(t5));
    } else {
      text = CachedTextEncoder.fromFolder(layout.embeddings!);
      for (const f of readdirSync(layout.embeddings!).sort()) if (f.endsWith('.safetensors') && !f.startsWith('.')) files.push({ role: 'text-embeddings', path: join(layout.embeddings!, f) });
    }
    disposers.push(() => text.dispose());

    // STDiT3 config as STDiT3-XL/2 with from_pretrained builds it: the folder's config.json (else the
    // registry's XL/2 sizes), the 1.3 inference options where the file is silent, then the sizes
    // that come from the VAE and the text encoder.
    const fileCfg = layout.stditConfig ? pick(readJson(layout.stditConfig), Object.keys(stdit3ConfigSchema.shape)) : null;
    const preset = stdit3Preset('STDiT3-XL/2') as Record<string, unknown>;
    const base = fileCfg ?? preset;
    const inference13 = { qk_norm: true, kernel_size: [8, 8, -1] as [number, number, number], use_spatial_rope: true };
    const stditCfg = { ...inference13, ...base, in_channels: vae.zChannels, caption_channels: text.dim, model_max_length: text.maxLength } as STDiT3ConfigInput;
    parseSTDiT3Config(stditCfg, layout.stditConfig ?? 'STDiT3-XL/2 preset');
    // loadSTDiT3 merges a folder's config.json under `config`; ours already holds it.
    const stdit = loadSTDiT3(layout.stdit, { config: stditCfg });
    disposers.push(() => stdit.dispose());
    files.push(...checkpointFileRoles('stdit', layout.stdit));
    if (layout.stditConfig) files.push({ role: 'stdit-config', path: layout.stditConfig });
    text.setNullEmbedding(stdit.yEmbedder.yEmbedding.tensor!);
    return {
      source: 'weights',
      vae,
      codec: new ChunkedVideoCodec(vae),
      stdit,
      text,
      encode: withCache(text, textCache),
      files,
      defaults: OFFICIAL_DEFAULTS,
      configs: { vae: vaeCfg, stdit: stditCfg },
      dispose: cleanup,
    };
  } catch (err) {
    cleanup();
    throw err;
  }
}

/** model_max_length of a DiT config.json, when it sets one (the caption length the DiT was trained with). */
function fileStditMaxLength(path: string | null): number | null {
  if (!path) return null;
  const v = readJson(path).model_max_length;
  return typeof v === 'number' ? v : null;
}

/**
 * The bundled demo model (weights null), a demo-model folder (model.json beside vae/stdit
 * safetensors, as the demo recipe exports one) or the official-format checkpoints of a folder.
 */
export interface ModelSources {
  /** --weights: null = the bundled demo model. */
  weights: string | null;
  textCache?: string | null;
  /** --text-encoder: a T5 folder used instead of the weights folder's t5/ or the demo encoder. */
  textEncoder?: string | null;
}

export function loadModels(sources: ModelSources | string | null): Models {
  const { weights, textCache = null, textEncoder = null } = typeof sources === 'object' && sources !== null ? sources : { weights: sources };
  if (weights === null) return demoModels(textCache, undefined, textEncoder);
  if (!existsSync(weights)) throw new Error(`--weights ${weights}: no such folder.`);
  return existsSync(join(weights, 'model.json')) ? demoModels(textCache, weights, textEncoder) : folderModels(weights, textCache, textEncoder);
}
