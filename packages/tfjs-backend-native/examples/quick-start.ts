import * as tf from '@tensorflow/tfjs';
import { registerNativeBackend } from '@opensora-ts/tfjs-backend-native';

const { threads, dnnl } = registerNativeBackend({ threads: 2 }); // throws if the addon is not built
await tf.setBackend('native');
const y = tf.matMul(tf.randomNormal([1024, 1024]), tf.randomNormal([1024, 1024]));
console.log(tf.getBackend(), threads, dnnl, y.shape); // native 2 true [ 1024, 1024 ] (dnnl: oneDNN convolutions)
