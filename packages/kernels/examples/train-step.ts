import { AdamW, Ema, Linear, clipCoefficient, globalGradNorm, initRuntime, lrSchedule, tf } from '@opensora-ts/kernels';

await initRuntime();
const model = new Linear(16, 4, { zeroInit: true });               // any Module: STDiT3, the VAE, ...
const named: [string, tf.Variable][] = [];                         // state-dict name -> variable
for (const [name, p] of model.namedParameters()) if (p.trainable && p.variable) named.push([name, p.variable]);
const opt = new AdamW(named, { lr: 1e-2, eps: 1e-15 });
const ema = new Ema(model, 0.99);
const schedule = lrSchedule({ lr: 1e-2, warmupSteps: 10, cosine: false }); // the reference's LinearWarmupLR
const x = tf.randomNormal([64, 16], 0, 1, 'float32', 1);
const y = tf.matMul(x, tf.randomNormal([16, 4], 0, 1, 'float32', 2)); // a linear map to learn
const losses: number[] = [];
for (let step = 0; step < 300; step++) {
  const { value, grads } = tf.variableGrads(() => model.forward(x).sub(y).square().mean<tf.Scalar>(), named.map(([, v]) => v));
  const byName = new Map<string, tf.Tensor>();                     // tfjs keys gradients by variable name
  for (const [name, v] of named) { const g = grads[v.name]; if (g) byName.set(name, g); }
  opt.lr = schedule(step);
  const norm = globalGradNorm(byName);                             // clip_grad_norm_'s total norm, before clipping
  opt.apply(byName, { gradScale: clipCoefficient(norm, 1.0) });    // clipped at max_norm 1.0
  ema.update();
  losses.push(value.dataSync()[0] ?? NaN);
  tf.dispose([value, ...byName.values()]);
}
console.log(`loss ${losses[0]?.toFixed(2)} -> ${losses.at(-1)?.toFixed(4)}; EMA keys: ${[...ema.stateDict().keys()].join(', ')}`);
