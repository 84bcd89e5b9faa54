import { describe, expect, it } from 'vitest';
import { initRuntime, tf, withShapesOnly } from '@opensora-ts/kernels';
import { NLayerDiscriminator3D } from './discriminator.js';
import { adaptiveGeneratorWeight, createVaeLoss, discriminatorLoss, generatorLoss, hingeDLoss, VAELoss } from './losses.js';
import { LPIPS } from './lpips.js';
import { DiagonalGaussian } from './posterior.js';

describe('VAE losses', () => {
  it('VAELoss: L1 summed per frame, fixed logvar 0, KL * 1e-6 per sample', async () => {
    await initRuntime({ announce: false });
    const x = tf.tensor5d([0, 1, 2, 3, 4, 5, 6, 7], [1, 1, 2, 2, 2]);
    const y = tf.tensor5d([1, 1, 2, 3, 4, 5, 6, 9], [1, 1, 2, 2, 2]);
    // moments: mean 1 everywhere, logvar 0 -> KL = 0.5 * sum(1) over 8 cells = 4
    const post = new DiagonalGaussian(tf.concat([tf.ones([1, 2, 2, 2, 1]), tf.zeros([1, 2, 2, 2, 1])], -1));
    const loss = new VAELoss({ perceptual_loss_weight: 0 });
    const r = loss.forward(x, y, post);
    expect(r.nllLoss.dataSync()[0]).toBeCloseTo(3 / 2, 6); // |diff| sum 3 over B*T = 2 frames
    expect(r.weightedKlLoss.dataSync()[0]).toBeCloseTo(4e-6, 10);
    const l2 = new VAELoss({ perceptual_loss_weight: 0, rec_loss: 'l2' }).forward(x, y, post);
    expect(l2.nllLoss.dataSync()[0]).toBeCloseTo((1 + 4) / 2, 6); // squared diffs 1 and 4 over 2 frames
    tf.dispose([l2.nllLoss, l2.weightedNllLoss, l2.weightedKlLoss]);
    expect(() => new VAELoss({ perceptual_loss_weight: 1 })).toThrow(/no LPIPS network/);
    const lines: string[] = [];
    const fallback = createVaeLoss({ log: (l) => lines.push(l) });
    expect(fallback.perceptualWeight).toBe(0);
    expect(lines[0]).toMatch(/perceptual_loss_weight 0/);
    tf.dispose([x, y, r.nllLoss, r.weightedNllLoss, r.weightedKlLoss]);
    post.dispose();
  });

  it('hinge losses, warm-up and the adaptive generator weight', async () => {
    await initRuntime({ announce: false });
    const real = tf.tensor([2, 0.5]);
    const fake = tf.tensor([-2, 0.5]);
    // real: relu(1-2)=0, relu(0.5)=0.5 -> 0.25; fake: relu(-1)=0, relu(1.5)=1.5 -> 0.75
    expect(hingeDLoss(real, fake).dataSync()[0]).toBeCloseTo(0.5, 6);
    expect(discriminatorLoss(real, fake, 10, { disc_start: 0 }).dataSync()[0]).toBeCloseTo(0.5, 6);
    expect(discriminatorLoss(real, fake, 10, { disc_start: 2001 }).dataSync()[0]).toBe(0);
    const w = tf.variable(tf.tensor([1, 2, 3]));
    const nll = tf.variableGrads(() => tf.sum(tf.mul(w, 3)) as tf.Scalar, [w]).grads[w.name]!; // grad 3 each
    const g = tf.variableGrads(() => tf.sum(w) as tf.Scalar, [w]).grads[w.name]!; // grad 1 each
    const d = adaptiveGeneratorWeight(nll, g, 0.5);
    expect(d).toBeCloseTo((Math.sqrt(27) / (Math.sqrt(3) + 1e-4)) * 0.5, 5);
    expect(generatorLoss(fake, d, 0, { disc_start: 0 }).dataSync()[0]).toBeCloseTo(d * 0.75, 5);
    tf.dispose([real, fake, w, nll, g]);
  });

  it('NLayerDiscriminator3D: reference keys, patch logits, trains with batch statistics', async () => {
    await initRuntime({ announce: false });
    const shapes = withShapesOnly(() => new NLayerDiscriminator3D()).stateDictShapes();
    expect([...shapes.keys()].filter((k) => k.endsWith('weight'))).toEqual([
      'main.0.weight', 'main.2.weight', 'main.3.weight', 'main.5.weight', 'main.6.weight', 'main.8.weight', 'main.9.weight', 'main.11.weight',
    ]);
    expect(shapes.get('main.8.weight')).toEqual([512, 256, 3, 3, 3]);
    expect(shapes.get('main.9.num_batches_tracked')).toEqual([]);
    const d = new NLayerDiscriminator3D({ ndf: 8, n_layers: 2 });
    d.train();
    const x = tf.randomNormal([2, 3, 4, 16, 16], 0, 1, 'float32', 1) as tf.Tensor5D;
    const { value, grads } = tf.variableGrads(() => tf.mean(d.forward(x)) as tf.Scalar, d.trainableVariables());
    expect(Object.keys(grads).length).toBe(d.trainableVariables().length);
    const out = d.eval().forward(x);
    expect(out.shape).toEqual([2, 1, 1, 4, 4]);
    tf.dispose([x, value, out, ...Object.values(grads)]);
    d.dispose();
  });

  it('LPIPS: reference key names, zero for identical images, positive otherwise', async () => {
    await initRuntime({ announce: false });
    const keys = [...withShapesOnly(() => new LPIPS()).stateDictShapes().keys()];
    expect(keys).toContain('net.slice3.14.weight');
    expect(keys).toContain('lin4.model.1.weight');
    expect(keys.length).toBe(26 + 5);
    const lp = new LPIPS();
    const a = tf.randomUniform([1, 16, 16, 3], -1, 1, 'float32', 2) as tf.Tensor4D;
    const b = tf.randomUniform([1, 16, 16, 3], -1, 1, 'float32', 3) as tf.Tensor4D;
    expect(Array.from(lp.forward(a, a).dataSync())).toEqual([0]);
    const lin = lp.forward(a, b).dataSync();
    expect(lin[0]).not.toBe(0);
    tf.dispose([a, b]);
    lp.dispose();
  });
});
