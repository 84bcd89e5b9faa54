import { initRuntime, tf } from '@opensora-ts/kernels';
import { demoModelPaths, readDemoManifest } from '@opensora-ts/demo-model';
import { loadSTDiT3 } from '@opensora-ts/stdit';

await initRuntime();
const demo = demoModelPaths();                          // files inside @opensora-ts/demo-model
const model = loadSTDiT3(demo.stdit, { config: readDemoManifest(demo.manifest).stdit });
// official: loadSTDiT3('models/OpenSora-STDiT-v4')     // the folder: config.json + model.safetensors
const out = model.forward({
  x: tf.randomNormal([1, 16, 5, 8, 8]),                 // latent [B, 16, T, H, W] of a 17x64x64 video
  timestep: [731.5],                                    // [0, 1000]
  y: tf.randomNormal([1, 1, 48, 64]),                   // caption states [B, 1, L, C]; T5-XXL: [B, 1, 300, 4096]
  mask: tf.ones([1, 48], 'int32'),                      // [B or 1, L]
  fps: 8, height: 64, width: 64,                        // the video's pixel size
});
console.log(out.shape);                                 // [1, 32, 5, 8, 8]: the first 16 channels are the velocity
