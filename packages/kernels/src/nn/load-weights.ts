// Loading a checkpoint into a module without holding it twice: every key, shape and dtype is
// checked against the checkpoint's headers (safetensors) or pickle (torch.save files) before any
// tensor data is read, so a wrong file fails at once with every missing, unexpected and misshaped
// key; then tensors are read and assigned one at a time, so peak host memory is the model plus one
// tensor (official checkpoints run to gigabytes).
import { openCheckpoint, type OpenCheckpointOptions } from '../checkpoint/reader.js';
import type { HostTensor } from '../safetensors.js';
import { StateDictError, formatLoadReport, type LoadReport, type Module } from './module.js';

/** A conversion of stored tensors on their way into the module (e.g. a channel adaptation). */
export interface WeightTransform {
  /** The shape `key` has after `tensor`, from its stored shape; checked before any data is read. */
  shape(key: string, stored: number[], file: string): number[];
  /** The stored tensor as the module takes it. */
  tensor(key: string, t: HostTensor): HostTensor;
}

export interface LoadModuleWeightsOptions {
  /** Load only the module's keys that start with this (e.g. 'encoder.'); file keys outside it count as unexpected. */
  prefix?: string;
  /** Throw on missing or unexpected keys (default true); misshaped keys always throw. */
  strict?: boolean;
  transform?: WeightTransform;
  /** For a .pt/.bin that wraps several state dicts: the top-level key to load (default: the state dict itself, else 'ema', 'state_dict', 'model', 'module'). */
  entry?: OpenCheckpointOptions['entry'];
  /** Load float tensors holding NaN or +-Inf instead of refusing them (default false). */
  allowNonFinite?: boolean;
}

const FLOAT_DTYPES = new Set(['F32', 'F16', 'BF16', 'F64']);

/**
 * Loads a checkpoint as published (a .safetensors or .bin/.pt/.pth file, a sharded `*.index.json`,
 * or a folder holding model.safetensors[.index.json] or pytorch_model.bin[.index.json]) into
 * `module` under the module's own state-dict names. Float tensors of any stored precision are
 * upcast to float32. Non-strict loads keep the module's current values for keys the file lacks.
 * A tensor holding NaN or +-Inf is refused naming its key (see `allowNonFinite`).
 */
export function loadModuleWeights(module: Module, path: string, options: LoadModuleWeightsOptions = {}): LoadReport {
  const strict = options.strict ?? true;
  const prefix = options.prefix ?? '';
  const ck = openCheckpoint(path, { entry: options.entry, allowNonFinite: options.allowNonFinite });
  try {
    const expected = new Map([...module.stateDictShapes()].filter(([k]) => k.startsWith(prefix)));
    const source = ck.source;
    const report: LoadReport = { missing: [], unexpected: [], mismatched: [], expectedShapes: {}, loaded: 0 };
    for (const k of ck.keys()) if (!expected.has(k)) report.unexpected.push(k);
    for (const [k, shape] of expected) {
      if (!ck.has(k)) {
        report.missing.push(k);
        report.expectedShapes[k] = shape;
        continue;
      }
      const info = ck.info(k);
      if (!FLOAT_DTYPES.has(info.dtype)) throw new Error(`${info.file}: tensor '${k}' is ${info.dtype}; module weights must be floating point (F32, F16, BF16 or F64). Check that this is a model checkpoint.`);
      const found = options.transform ? options.transform.shape(k, [...info.shape], info.file) : [...info.shape];
      if (found.length !== shape.length || found.some((v, i) => v !== shape[i])) report.mismatched.push({ key: k, expected: shape, found });
    }
    if (report.mismatched.length || (strict && (report.missing.length || report.unexpected.length))) {
      throw new StateDictError(formatLoadReport(report, source), report);
    }
    for (const k of expected.keys()) {
      if (!ck.has(k)) continue;
      const stored = ck.read(k);
      const t = options.transform ? options.transform.tensor(k, stored) : stored;
      module.loadStateDict(new Map([[k, t]]), { strict: false, source });
      report.loaded++;
    }
    return report;
  } finally {
    ck.close();
  }
}
