// `pnpm smoke`: starts the runtime, says which backend it chose, and times one 512^3 matMul.
import { describeRuntime, initRuntime, runtimeNotice, tf } from '@opensora-ts/kernels';

await initRuntime({ announce: false });
const rt = await describeRuntime();
console.log(runtimeNotice(rt));
const a = tf.randomNormal([512, 512]);
const b = tf.randomNormal([512, 512]);
tf.matMul(a, b).dispose();
const start = performance.now();
const c = tf.matMul(a, b);
await c.data();
const ms = performance.now() - start;
console.log(`matMul 512^3: ${ms.toFixed(1)} ms (${((2 * 512 ** 3) / ms / 1e6).toFixed(1)} GFLOP/s)`);
tf.dispose([a, b, c]);
