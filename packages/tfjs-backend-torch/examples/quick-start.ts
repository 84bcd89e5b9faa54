import * as tf from '@tensorflow/tfjs';
import { registerTorchBackend, torchBackendInfo } from '@opensora-ts/tfjs-backend-torch';

// device: OPENSORA_DEVICE, else 'cpu'; registerTorchBackend({ device: 'cuda' }) asks for the GPU
const { version, device } = registerTorchBackend(); // throws if the addon (or CUDA, when asked) is missing
await tf.setBackend('torch');
const y = tf.matMul(tf.randomNormal([1024, 1024]), tf.randomNormal([1024, 1024]));
console.log(version, device, y.shape, torchBackendInfo()?.fallbacks); // e.g. 2.11.0 cuda:0 [ 1024, 1024 ] {}
