// Loading an OpenSoraVAE_V1_3 checkpoint (the official model.safetensors: 256 BF16 tensors
// named `encoder.*` / `decoder.*`) with no renaming. Keys and shapes are checked from the file
// header first, so a wrong file fails at once with every missing, unexpected and misshaped key;
// then tensors are read and assigned one at a time to keep host memory at one tensor.
import { SafetensorsFile, StateDictError, checkpointFiles, formatLoadReport, type LoadReport } from '@opensora-ts/kernels';
import type { OpenSoraVAE } from './vae.js';

export interface LoadVaeWeightsOptions {
  /** Load only this half (files holding just `encoder.*` or `decoder.*` keys). */
  only?: 'encoder' | 'decoder';
  /** Accept missing/unexpected keys (misshaped keys still throw). Default false. */
  allowPartial?: boolean;
}

/** Loads `path` (a .safetensors file, an index.json or a folder holding model.safetensors) into `vae`. */
export function loadVaeWeights(vae: OpenSoraVAE, path: string, options: LoadVaeWeightsOptions = {}): LoadReport {
  const files = checkpointFiles(path).map((f) => new SafetensorsFile(f));
  try {
    const prefix = options.only ? `${options.only}.` : '';
    const expected = new Map([...vae.stateDictShapes()].filter(([k]) => k.startsWith(prefix)));
    const where = new Map<string, SafetensorsFile>();
    for (const f of files) for (const k of f.keys()) where.set(k, f);
    const report: LoadReport = { missing: [], unexpected: [], mismatched: [], expectedShapes: {}, loaded: 0 };
    for (const k of where.keys()) if (!expected.has(k)) report.unexpected.push(k);
    for (const [k, shape] of expected) {
      const f = where.get(k);
      if (!f) {
        report.missing.push(k);
        report.expectedShapes[k] = shape;
        continue;
      }
      const found = f.info(k).shape;
      if (found.length !== shape.length || found.some((v, i) => v !== shape[i])) report.mismatched.push({ key: k, expected: shape, found: [...found] });
    }
    const partialOk = options.allowPartial && report.mismatched.length === 0;
    if (!partialOk && (report.missing.length || report.unexpected.length || report.mismatched.length)) {
      throw new StateDictError(formatLoadReport(report, path), report);
    }
    for (const [k] of expected) {
      const f = where.get(k);
      if (!f) continue;
      vae.loadStateDict(new Map([[k, f.read(k)]]), { strict: false, source: path });
      report.loaded++;
    }
    return report;
  } finally {
    for (const f of files) f.close();
  }
}
