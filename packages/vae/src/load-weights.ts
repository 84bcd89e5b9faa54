// Loading an OpenSoraVAE_V1_3 checkpoint (the official model.safetensors: 256 BF16 tensors
// named `encoder.*` / `decoder.*`; or a torch.save .pt/.bin of the same state dict) with no
// renaming, through kernels' loadModuleWeights: keys and shapes are checked from the file headers
// (or the restricted unpickler's reading of a .pt) first, so a wrong file fails at once with every
// missing, unexpected and misshaped key; then tensors are read and assigned one at a time.
import { loadModuleWeights, type LoadReport } from '@opensora-ts/kernels';
import type { OpenSoraVAE } from './vae.js';

export interface LoadVaeWeightsOptions {
  /** Load only this half (files holding just `encoder.*` or `decoder.*` keys). */
  only?: 'encoder' | 'decoder';
  /** Accept missing/unexpected keys (misshaped keys still throw). Default false. */
  allowPartial?: boolean;
}

/** Loads `path` (a .safetensors or .pt/.pth/.bin file, an index.json, or a folder holding model.safetensors or pytorch_model.bin) into `vae`. */
export function loadVaeWeights(vae: OpenSoraVAE, path: string, options: LoadVaeWeightsOptions = {}): LoadReport {
  return loadModuleWeights(vae, path, { prefix: options.only ? `${options.only}.` : '', strict: !options.allowPartial });
}
