import { initRuntime, tf } from '@opensora-ts/kernels';
import { demoModelPaths } from '@opensora-ts/demo-model';
import { ChunkedVideoCodec, createVae, loadVaeWeights } from '@opensora-ts/vae';

await initRuntime();
const demo = demoModelPaths();                         // { vae, manifest, ... }: files inside the package
const vae = createVae(demo.manifest);                  // model.json's "vae" config; official: 'OpenSoraVAE_V1_3'
loadVaeWeights(vae, demo.vae);                         // official: 'models/OpenSora-VAE-v1.3/model.safetensors'
const codec = new ChunkedVideoCodec(vae);              // 17-frame chunks, overlap, 'video' normalization
const video = tf.randomUniform<tf.Rank.R5>([1, 3, 17, 64, 64], -1, 1);
const z = codec.encode(video, { seed: 0 });            // [1, 16, 5, 8, 8], normalized
const recon = codec.decode(z);                         // [1, 3, 17, 64, 64]
console.log(z.shape, recon.shape);
for (const { frames } of codec.decodeFrames(z)) frames.dispose(); // streamed, flat memory
