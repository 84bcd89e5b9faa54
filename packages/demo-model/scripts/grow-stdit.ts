// Deepens a trained STDiT3 (growSTDiT3Depth: the new blocks start as the identity, so the grown model
// draws what the old one drew) for a next training stage with more capacity. It made the depth-8
// attempt on the model card; the bundled recipe does not use it:
//   node --conditions=source --import tsx packages/demo-model/scripts/grow-stdit.ts \
//     --from out/demo-model/dit7 --depth 8 --out out/demo-model/dit7-depth8.safetensors
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { readSafetensors, writeSafetensors } from '@opensora-ts/kernels';
import { growSTDiT3Depth, stdit3Depth } from '@opensora-ts/stdit';
import { newestCheckpointWeights } from './run-weights.js';

const { values: a } = parseArgs({ options: { from: { type: 'string' }, depth: { type: 'string' }, out: { type: 'string' } } });
if (!a.from || !a.depth || !a.out) throw new Error('usage: grow-stdit.ts --from RUN_DIR|FILE.safetensors --depth N --out FILE.safetensors');
const weights = newestCheckpointWeights(resolve(a.from));
const state = readSafetensors(weights);
const grown = growSTDiT3Depth(state, Number(a.depth));
writeSafetensors(resolve(a.out), new Map([...grown].map(([k, t]) => [k, { shape: t.shape, data: t.data }])), { grown_from: weights, depth_from: String(stdit3Depth(state)), depth_to: a.depth });
console.log(`${weights}: ${stdit3Depth(state)} -> ${a.depth} blocks per stack; wrote ${resolve(a.out)}`);
