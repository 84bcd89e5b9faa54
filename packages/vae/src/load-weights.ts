// Loading an OpenSoraVAE_V1_3 checkpoint (the official model.safetensors: 256 BF16 tensors
// named `encoder.*` / `decoder.*`; or a torch.save .pt/.bin of the same state dict) with no
// renaming, through kernels' loadModuleWeights: keys and shapes are checked from the file headers
// (or the restricted unpickler's reading of a .pt) first, so a wrong file fails at once; then
// tensors are read and assigned one at a time. Weights of another config fail in one line that
// names the config they are (a preset, or a JSON file beside them) when one fits.
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { loadModuleWeights, openCheckpoint, StateDictError, type LoadReport } from '@opensora-ts/kernels';
import { VAE_PRESETS } from './config.js';
import { vaeShapes, type OpenSoraVAE } from './vae.js';

export interface LoadVaeWeightsOptions {
  /** Load only this half (files holding just `encoder.*` or `decoder.*` keys). */
  only?: 'encoder' | 'decoder';
  /** Accept missing/unexpected keys (misshaped keys still throw). Default false. */
  allowPartial?: boolean;
}

/** Weights that do not fit the VAE's config; `report` lists every key, the message is one line. */
export class VaeWeightsMismatchError extends StateDictError {
  override name = 'VaeWeightsMismatchError';
}

/** Loads `path` (a .safetensors or .pt/.pth/.bin file, an index.json, or a folder holding model.safetensors or pytorch_model.bin) into `vae`. */
export function loadVaeWeights(vae: OpenSoraVAE, path: string, options: LoadVaeWeightsOptions = {}): LoadReport {
  const prefix = options.only ? `${options.only}.` : '';
  try {
    return loadModuleWeights(vae, path, { prefix, strict: !options.allowPartial });
  } catch (err) {
    if (!(err instanceof StateDictError)) throw err;
    throw new VaeWeightsMismatchError(mismatchLine(vae, path, prefix, err), err.report);
  }
}

/** One line: which config the weights are (or what they look like), and what to build instead. */
function mismatchLine(vae: OpenSoraVAE, path: string, prefix: string, err: StateDictError): string {
  const r = err.report;
  const head = err.message.split('\n')[0]!; // "<file>: N missing, M unexpected, K misshaped keys"
  const source = head.replace(/: \d+ missing, .*$/, '');
  const counts = head.slice(source.length + 2);
  const stored = storedShapes(path);
  const fits = stored ? identifyVaeConfig(stored, prefix, path) : undefined;
  if (fits) {
    return (
      `${source}: these weights are config ${fits.name}, not ${vae.configSource} that this VAE was built with (${counts}); ` +
      `build the VAE from theirs: createVae(${JSON.stringify(fits.spec)}), or on the command line --config ${fits.spec}.`
    );
  }
  const firstLine = err.message.split('\n')[1]?.trim();
  if (r.mismatched.length === 0) {
    // Same shapes, keys missing or extra: an incomplete or wrapped file rather than another config.
    return `${head}${firstLine ? `; first: ${firstLine}` : ''}; a complete OpenSoraVAE_V1_3 state dict has encoder.* and decoder.* keys (one half loads with { only: 'encoder' | 'decoder' }).`;
  }
  const first = r.mismatched[0]
    ? `key '${r.mismatched[0].key}' has shape [${r.mismatched[0].found}], expected [${r.mismatched[0].expected}]`
    : r.missing[0]
      ? `missing key '${r.missing[0]}'`
      : `unexpected key '${r.unexpected[0]}'`;
  const looks = stored ? describeStored(stored) : '';
  return (
    `${source}: these weights do not fit ${vae.configSource} (${counts}; first: ${first}) nor any preset (${Object.keys(VAE_PRESETS).join(', ')})` +
    `${looks ? `: they have ${looks}` : ''}; build the VAE from the config they were trained with (createVae(configFile), --config FILE).`
  );
}

function storedShapes(path: string): Map<string, number[]> | undefined {
  try {
    const ck = openCheckpoint(path);
    try {
      return new Map(ck.keys().map((k) => [k, [...ck.info(k).shape]]));
    } finally {
      ck.close();
    }
  } catch {
    return undefined;
  }
}

/**
 * The config whose state dict has exactly these keys and shapes (under `prefix`): a JSON config
 * beside the weights (model.json, config.json, vae.json; the demo model keeps its config in
 * model.json) first, then the presets.
 */
export function identifyVaeConfig(stored: Map<string, number[]>, prefix = '', weightsPath?: string): { name: string; spec: string } | undefined {
  const candidates: { name: string; spec: string }[] = [];
  if (weightsPath) {
    const dir = existsSync(weightsPath) && statSync(weightsPath).isDirectory() ? weightsPath : dirname(weightsPath);
    for (const f of ['model.json', 'config.json', 'vae.json']) {
      const p = join(dir, f);
      if (existsSync(p)) candidates.push({ name: `'${p}'`, spec: p });
    }
  }
  for (const k of Object.keys(VAE_PRESETS)) candidates.push({ name: `'${k}' (a preset)`, spec: k });
  for (const c of candidates) {
    let shapes: Map<string, number[]>;
    try {
      const m = vaeShapes(c.spec);
      shapes = new Map([...m.stateDictShapes()].filter(([k]) => k.startsWith(prefix)));
    } catch {
      continue; // not a VAE config
    }
    const keys = [...stored.keys()].filter((k) => k.startsWith(prefix));
    if (keys.length !== shapes.size) continue;
    if (keys.every((k) => shapes.get(k)?.join(',') === stored.get(k)!.join(','))) return c;
  }
  return undefined;
}

/** "ch 16, 4 levels, z_channels 16" from the stored encoder/decoder shapes, as far as they say. */
function describeStored(stored: Map<string, number[]>): string {
  const parts: string[] = [];
  const convIn = stored.get('encoder.conv_in.conv.weight');
  if (convIn) parts.push(`encoder ch ${convIn[0]}`);
  const levels = new Set([...stored.keys()].map((k) => /^encoder\.down\.(\d+)\./.exec(k)?.[1]).filter(Boolean)).size;
  if (levels) parts.push(`${levels} levels`);
  const decIn = stored.get('decoder.conv_in.conv.weight');
  if (decIn) parts.push(`z_channels ${decIn[1]}`);
  return parts.join(', ');
}
