import { initRuntime, tf, Linear, readSafetensors, writeSafetensors, scaledDotProductAttention } from '@opensora-ts/kernels';

await initRuntime();                      // tfjs-node-gpu > tfjs-node > torch on CUDA > native > torch > cpu; one line
const proj = new Linear(1152, 3456);      // state-dict keys 'weight' [3456,1152], 'bias' [3456]
writeSafetensors('qkv.safetensors', { weight: { shape: [3456, 1152], data: new Float32Array(3456 * 1152).fill(0.01) }, bias: { shape: [3456], data: new Float32Array(3456) } });
proj.loadStateDict(readSafetensors('qkv.safetensors'), { source: 'qkv.safetensors' });
const y = proj.forward(tf.randomNormal([2, 64, 1152]));
const q = tf.randomNormal<tf.Rank.R4>([1, 4, 16, 8]);   // [batch, heads, tokens, head dim]
const out = scaledDotProductAttention(q, q, q, { causal: true });
console.log(y.shape, out.shape);          // [ 2, 64, 3456 ] [ 1, 4, 16, 8 ]
