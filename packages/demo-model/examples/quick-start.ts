import { initRuntime, tf } from '@opensora-ts/kernels';
import { loadDemoModel, demoModelPaths } from '@opensora-ts/demo-model';
import { ChunkedVideoCodec } from '@opensora-ts/vae';

await initRuntime();
const demo = loadDemoModel();                 // { vae, stdit, textEncoder, manifest, paths, dispose }
console.log(demo.manifest.status, demo.manifest.sampling); // 'trained' | 'untrained-placeholder', its size and steps
const { states, mask } = await demo.textEncoder.encode(['a red circle moves to the left']);
const yNull = demo.textEncoder.null(1).states;              // the DiT's y_embedding
const codec = new ChunkedVideoCodec(demo.vae);             // latents <-> pixels
console.log(demoModelPaths().stdit, demo.textEncoder.unknownWords('a red dog')); // [... 'dog']
demo.dispose();
