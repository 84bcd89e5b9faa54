// The demo model as ready-to-use modules: VAE (with its chunked codec options in its config), STDiT3
// and the DemoTextEncoder whose null caption is the DiT's y_embedding.
import { DemoTextEncoder } from '@opensora-ts/conditioning';
import { loadSTDiT3, type STDiT3 } from '@opensora-ts/stdit';
import { createVae, loadVaeWeights, type OpenSoraVAE, type VaeConfigInput } from '@opensora-ts/vae';
import { readDemoManifest, type DemoManifest } from './manifest.js';
import { checkDemoModelFiles, demoModelPaths, type DemoModelPaths } from './paths.js';
import { sameFingerprint, textEncoderFingerprint } from './fingerprint.js';

export interface DemoModel {
  vae: OpenSoraVAE;
  stdit: STDiT3;
  textEncoder: DemoTextEncoder;
  manifest: DemoManifest;
  paths: DemoModelPaths;
  dispose(): void;
}

/** The text encoder the demo DiT was trained with (no null caption set). */
export function demoTextEncoder(manifest: Pick<DemoManifest, 'text_encoder'>): DemoTextEncoder {
  const { seed, model_max_length: maxLength, word_order: wordOrder } = manifest.text_encoder;
  return new DemoTextEncoder({ seed, maxLength, wordOrder });
}

/** Loads the bundled demo model (or the one in `dir`). */
export function loadDemoModel(dir?: string): DemoModel {
  const paths = demoModelPaths(dir);
  checkDemoModelFiles(paths);
  const manifest = readDemoManifest(paths.manifest);
  const vae = createVae(manifest.vae as VaeConfigInput);
  try {
    loadVaeWeights(vae, paths.vae);
  } catch (err) {
    vae.dispose();
    throw err;
  }
  let stdit: STDiT3;
  try {
    stdit = loadSTDiT3(paths.stdit, { config: manifest.stdit });
  } catch (err) {
    vae.dispose();
    throw err;
  }
  const textEncoder = demoTextEncoder(manifest);
  textEncoder.setNullEmbedding(stdit.yEmbedder.yEmbedding.tensor!);
  return {
    vae,
    stdit,
    textEncoder,
    manifest,
    paths,
    dispose() {
      vae.dispose();
      stdit.dispose();
      textEncoder.dispose();
    },
  };
}

/**
 * null when the demo text encoder still gives the features the DiT was trained on (or the manifest
 * has no fingerprint); otherwise a message saying that they changed and what to do.
 */
export async function checkDemoTextEncoder(model: Pick<DemoModel, 'manifest' | 'textEncoder'>): Promise<string | null> {
  const want = model.manifest.text_encoder.fingerprint;
  if (!want) return null;
  const got = await textEncoderFingerprint(model.textEncoder);
  if (sameFingerprint(got, want)) return null;
  return `the demo text encoder's features changed since the demo DiT was trained (probe [${got.slice(0, 3).join(', ')}, ...], trained with [${want.slice(0, 3).join(', ')}, ...]): @opensora-ts/conditioning and @opensora-ts/demo-model versions do not match; prompts will not be followed. Re-export the demo model (tools/demo-model/recipe.sh) or use matching versions.`;
}
