// The bundled files live in the package's weights/ folder, one level above both src/ and dist/,
// so the same relative URL works from source and from the build.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

export interface DemoModelPaths {
  /** The folder holding the three files. */
  dir: string;
  /** OpenSoraVAE_V1_3 state dict (encoder.* / decoder.*). */
  vae: string;
  /** STDiT3 state dict. */
  stdit: string;
  /** model.json: configs, text-encoder settings, training provenance. */
  manifest: string;
}

/** Where the bundled demo weights are; `dir` overrides the bundled folder (a re-exported model). */
export function demoModelPaths(dir?: string): DemoModelPaths {
  const root = dir ?? fileURLToPath(new URL('../weights/', import.meta.url));
  return { dir: root, vae: join(root, 'vae.safetensors'), stdit: join(root, 'stdit.safetensors'), manifest: join(root, 'model.json') };
}

/** Throws naming the first missing file. */
export function checkDemoModelFiles(paths: DemoModelPaths): void {
  for (const [what, p] of [['manifest', paths.manifest], ['VAE weights', paths.vae], ['STDiT3 weights', paths.stdit]] as const) {
    if (!existsSync(p)) throw new Error(`demo model: missing ${what} ${p}; reinstall @opensora-ts/demo-model or re-export it (see its README).`);
  }
}
