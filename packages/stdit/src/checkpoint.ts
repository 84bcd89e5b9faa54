// Official checkpoints (HF `model.safetensors`, F32, the reference's key names) load with no
// renaming, and so do the torch.save files the reference's own stage configs start from (`ema.pt`)
// and pytorch_model.bin shards. kernels' loadModuleWeights checks keys and shapes against the file
// headers (or the restricted unpickler's reading of a .pt) before any data is read, then reads
// tensors one at a time, so peak memory is the model plus one tensor.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { loadModuleWeights, openCheckpoint, StateDictError, tf, withShapesOnly, type HostTensor, type LoadReport, type StateDictValue, type WeightTransform } from '@opensora-ts/kernels';
import type { STDiT3ConfigInput } from './config.js';
import { STDIT3_PRESETS } from './presets.js';
import { STDiT3, type STDiT3BuildOptions } from './stdit3.js';

export interface LoadWeightsOptions {
  /** Every key present with its shape, nothing extra (default true). */
  strict?: boolean;
  /** Convert a 4-channel (Open-Sora 1.0-1.2 VAE) checkpoint to 16 channels (the reference's adapt_16ch). */
  adapt_16ch?: boolean;
}

const X_EMBED = 'x_embedder.proj.weight';
const FINAL_W = 'final_layer.linear.weight';
const FINAL_B = 'final_layer.linear.bias';
const ADAPT_FROM = 4;
const ADAPT_TO = 16;
const REPEAT = ADAPT_TO / ADAPT_FROM;

/** Shape of a key after adapt_16ch. */
function adaptedShape(key: string, shape: number[], file: string): number[] {
  if (key === X_EMBED) {
    if (shape[1] !== ADAPT_FROM) throw new Error(`${file}: adapt_16ch expects '${X_EMBED}' with ${ADAPT_FROM} input channels, found [${shape}]; load this checkpoint without adapt_16ch`);
    return [shape[0]!, ADAPT_TO, ...shape.slice(2)];
  }
  if (key === FINAL_W || key === FINAL_B) {
    const groups = shape[0]! / (2 * ADAPT_FROM);
    if (!Number.isInteger(groups)) throw new Error(`${file}: adapt_16ch expects '${key}' rows = patches x 2 x ${ADAPT_FROM}, found [${shape}]`);
    return [shape[0]! * REPEAT, ...shape.slice(1)];
  }
  return shape;
}

/**
 * adapt_16ch on one tensor (host data): the patch-embed weight is tiled x4 along input channels
 * and divided by 4; the final linear rows, grouped (patch, pred|sigma, channel 4), tile the
 * channel x4 -> (patch, 2, 16). Other keys pass through.
 */
export function adapt16chTensor(key: string, t: HostTensor): HostTensor {
  const src = t.data as Float32Array;
  if (key === X_EMBED) {
    const [o, ci, ...k] = t.shape as [number, number, ...number[]];
    const inner = k.reduce((a, b) => a * b, 1);
    const co = ci * REPEAT;
    const out = new Float32Array(o * co * inner);
    for (let a = 0; a < o; a++) {
      for (let j = 0; j < co; j++) {
        const from = (a * ci + (j % ci)) * inner;
        const to = (a * co + j) * inner;
        for (let q = 0; q < inner; q++) out[to + q] = src[from + q]! / REPEAT;
      }
    }
    return { ...t, shape: [o, co, ...k], data: out };
  }
  if (key === FINAL_W || key === FINAL_B) {
    const rowsIn = t.shape[0]!;
    const inner = t.shape.slice(1).reduce((a, b) => a * b, 1);
    const groups = rowsIn / ADAPT_FROM; // (patch, pred|sigma) pairs
    const out = new Float32Array(rowsIn * REPEAT * inner);
    for (let g = 0; g < groups; g++) {
      for (let j = 0; j < ADAPT_TO; j++) {
        const from = (g * ADAPT_FROM + (j % ADAPT_FROM)) * inner;
        const to = (g * ADAPT_TO + j) * inner;
        for (let q = 0; q < inner; q++) out[to + q] = src[from + q]!;
      }
    }
    return { ...t, shape: [rowsIn * REPEAT, ...t.shape.slice(1)], data: out };
  }
  return t;
}

function toHost(v: StateDictValue): HostTensor {
  if (v instanceof tf.Tensor) return { dtype: 'float32', shape: [...v.shape], data: Float32Array.from(v.dataSync()) } as HostTensor;
  return v;
}

/** adapt_16ch over a whole state dict (the reference's adapt_16ch_vae); returns a new map. */
export function adapt16ch(stateDict: Map<string, StateDictValue>): Map<string, StateDictValue> {
  const out = new Map(stateDict);
  if (!stateDict.has(X_EMBED)) return out;
  for (const key of [X_EMBED, FINAL_W, FINAL_B]) {
    const v = stateDict.get(key);
    if (!v) continue;
    adaptedShape(key, [...v.shape], 'state dict');
    out.set(key, adapt16chTensor(key, toHost(v)));
  }
  return out;
}

/** adapt_16ch as a load-time transform: shapes for the header check, then each tensor as it is read. */
const ADAPT_16CH: WeightTransform = { shape: adaptedShape, tensor: adapt16chTensor };

/**
 * Loads weights as published (a .safetensors or .pt/.pth/.bin file, an index.json, or a folder
 * holding model.safetensors or pytorch_model.bin) into `model`, checking every key and shape first.
 */
export function loadSTDiT3Weights(model: STDiT3, path: string, options: LoadWeightsOptions = {}): LoadReport {
  try {
    return loadModuleWeights(model, path, { strict: options.strict, transform: options.adapt_16ch ? ADAPT_16CH : undefined });
  } catch (err) {
    // Misshaped keys mean another config: say in one line which one the weights are, when one fits.
    if (!(err instanceof StateDictError) || err.report.mismatched.length === 0 || options.adapt_16ch) throw err;
    throw new StateDictError(configMismatchLine(path, err), err.report);
  }
}

function configMismatchLine(path: string, err: StateDictError): string {
  const head = err.message.split('\n')[0]!;
  const m = err.report.mismatched[0]!;
  const first = `key '${m.key}' has shape [${m.found}], expected [${m.expected}]`;
  const fits = identifySTDiT3Config(path);
  if (fits) return `${head} (first: ${first}): these weights are config ${fits.name}, not the one given; load them with ${fits.how}.`;
  return `${head} (first: ${first}): these weights fit neither the config given nor a preset (${Object.keys(STDIT3_PRESETS).join(', ')}); pass the config they were trained with ({ config }).`;
}

/**
 * The config whose state dict has exactly the checkpoint's keys and shapes: the folder's
 * config.json, the `stdit` key of a model.json beside the weights (the demo model's), or a preset.
 */
export function identifySTDiT3Config(path: string): { name: string; how: string; config: STDiT3ConfigInput } | undefined {
  let stored: Map<string, string>;
  try {
    const ck = openCheckpoint(path);
    try {
      stored = new Map(ck.keys().map((k) => [k, ck.info(k).shape.join(',')]));
    } finally {
      ck.close();
    }
  } catch {
    return undefined;
  }
  const folder = existsSync(path) && statSync(path).isDirectory() ? path : dirname(path);
  const candidates: { name: string; how: string; config: STDiT3ConfigInput }[] = [];
  const readJson = (f: string): Record<string, unknown> | undefined => {
    try {
      return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as Record<string, unknown>) : undefined;
    } catch {
      return undefined;
    }
  };
  const manifest = readJson(join(folder, 'model.json'));
  if (manifest?.stdit && typeof manifest.stdit === 'object') {
    candidates.push({ name: `'${join(folder, 'model.json')}' ("stdit")`, how: `loadSTDiT3(path, { config: <that file's "stdit" object> })`, config: manifest.stdit as STDiT3ConfigInput });
  }
  const cfg = readJson(join(folder, 'config.json'));
  if (cfg) candidates.push({ name: `'${join(folder, 'config.json')}'`, how: `loadSTDiT3('${folder}') (the folder reads it)`, config: cfg as STDiT3ConfigInput });
  for (const [name, config] of Object.entries(STDIT3_PRESETS)) {
    candidates.push({ name: `'${name}' (a preset)`, how: `loadSTDiT3(path, { config: stdit3Preset('${name}') })`, config: config as STDiT3ConfigInput });
  }
  for (const c of candidates) {
    let shapes: Map<string, number[]>;
    try {
      const m = withShapesOnly(() => new STDiT3(c.config, { referenceInit: false }));
      shapes = m.stateDictShapes();
      m.dispose();
    } catch {
      continue;
    }
    if (shapes.size === stored.size && [...shapes].every(([k, s]) => stored.get(k) === s.join(','))) return c;
  }
  return undefined;
}

export interface LoadCheckpointOptions extends LoadWeightsOptions, Pick<STDiT3BuildOptions, 'seed'> {
  /** Config (reference key names); merged over the folder's config.json when there is one. */
  config?: STDiT3ConfigInput;
}

/**
 * Builds STDiT3 from a checkpoint: a weights file (`model.safetensors`, `ema.pt`, ...) or an HF
 * folder (config.json + model.safetensors or pytorch_model.bin). With strict loading nothing is
 * allocated before the weights are read.
 */
export function loadSTDiT3(path: string, options: LoadCheckpointOptions = {}): STDiT3 {
  const folder = existsSync(path) && statSync(path).isDirectory() ? path : dirname(path);
  const cfgFile = join(folder, 'config.json');
  let fileConfig: Record<string, unknown> = {};
  if (existsSync(path) && statSync(path).isDirectory() && existsSync(cfgFile)) {
    try {
      fileConfig = JSON.parse(readFileSync(cfgFile, 'utf8')) as Record<string, unknown>;
    } catch (err) {
      throw new Error(`${cfgFile}: not valid JSON (${(err as Error).message})`);
    }
  }
  const config = { ...fileConfig, ...(options.config ?? {}) };
  const strict = options.strict ?? true;
  // Non-strict loads keep the initial values of keys the file lacks, as the reference does.
  const model = strict
    ? withShapesOnly(() => new STDiT3(config, { referenceInit: false, seed: options.seed }))
    : new STDiT3(config, { seed: options.seed });
  try {
    loadSTDiT3Weights(model, path, options);
  } catch (err) {
    model.dispose();
    throw err;
  }
  return model;
}
