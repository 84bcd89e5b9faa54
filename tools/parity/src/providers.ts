// Where each fixture `kind` is implemented: every package that can run reference cases
// exports a `parity` subpath mapping kinds to runners. A package not installed yet simply
// contributes nothing, and its kinds report "not implemented".
import type { ParityRunner } from '@opensora-ts/kernels';
import { rflowSample } from './kinds/rflow-sample.js';

/** Kinds that compose several packages (as an app would) are implemented here. */
const COMPOSED: Record<string, ParityRunner> = { rflow_sample: rflowSample };

const PROVIDERS = [
  '@opensora-ts/vae/parity',
  '@opensora-ts/stdit/parity',
  '@opensora-ts/flow/parity',
  '@opensora-ts/conditioning/parity',
  '@opensora-ts/data/parity',
  '@opensora-ts/eval/parity',
];

export async function loadRunners(): Promise<Map<string, ParityRunner>> {
  const runners = new Map<string, ParityRunner>(Object.entries(COMPOSED));
  for (const spec of PROVIDERS) {
    let mod: { parityRunners?: Record<string, ParityRunner> };
    try {
      mod = (await import(spec)) as typeof mod;
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'ERR_MODULE_NOT_FOUND' || code === 'ERR_PACKAGE_PATH_NOT_EXPORTED') continue;
      throw err;
    }
    for (const [kind, run] of Object.entries(mod.parityRunners ?? {})) runners.set(kind, run);
  }
  return runners;
}
