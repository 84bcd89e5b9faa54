// Training support: gradients reach every parameter through every path (i2v conditioning,
// frame mask, windowed attention with padding, ragged captions, caption dropout) and match central
// differences, memory stays flat, and the training-time draws are seeded.
import { beforeAll, describe, expect, it } from 'vitest';
import { initRuntime, tf } from '@opensora-ts/kernels';
import { STDiT3, type STDiT3Inputs } from './stdit3.js';
import type { STDiT3ConfigInput } from './config.js';
import { stdit3ModelFn } from './model-fn.js';

const cfg: STDiT3ConfigInput = {
  depth: 2, hidden_size: 48, num_heads: 2, caption_channels: 8, model_max_length: 4, kernel_size: [2, 2, -1], use_spatial_rope: true, class_dropout_prob: 0.5,
};

beforeAll(async () => {
  await initRuntime({ announce: false });
});

/** Inputs touching every path: grid 3x3 (windows pad to 4x4), i2v frame 0, a false x_mask frame, ragged captions. */
function inputs(): STDiT3Inputs {
  const b = 2;
  const x = tf.randomNormal([b, 16, 3, 6, 5], 0, 1, 'float32', 11);
  const cond = tf.randomNormal([b, 16, 3, 6, 5], 0, 1, 'float32', 12);
  const condMask = tf.concat([tf.ones([b, 16, 1, 6, 5]), tf.zeros([b, 16, 2, 6, 5])], 2);
  return {
    x,
    timestep: [700, 250.5],
    y: tf.randomNormal([b, 1, 4, 8], 0, 1, 'float32', 13),
    mask: [[1, 1, 1, 1], [1, 1, 0, 0]],
    x_mask: [[1, 0, 1], [1, 1, 1]],
    fps: 24,
    height: 48,
    width: 40,
    cond,
    cond_mask: condMask,
    mask_index: [0],
    y_null: tf.randomNormal([b, 1, 4, 8], 0, 1, 'float32', 14),
  };
}

function gradsByName(model: STDiT3, inp: STDiT3Inputs): Map<string, { finite: boolean; norm: number }> {
  const names = new Map<string, string>();
  for (const [k, p] of model.namedParameters()) if (p.trainable && p.variable) names.set(p.variable.name, k);
  const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(model.forward(inp))) as tf.Scalar, model.trainableVariables());
  const out = new Map<string, { finite: boolean; norm: number }>();
  for (const [vname, g] of Object.entries(grads)) {
    const d = g.dataSync();
    let n = 0;
    let finite = true;
    for (const v of d) {
      if (!Number.isFinite(v)) finite = false;
      n += v * v;
    }
    out.set(names.get(vname)!, { finite, norm: Math.sqrt(n) });
  }
  tf.dispose([value, ...Object.values(grads)]);
  return out;
}

describe('training', () => {
  it('every trainable parameter gets a finite, nonzero gradient', () => {
    const model = new STDiT3(cfg, { referenceInit: false, seed: 1 }).train();
    const inp = inputs();
    const before = tf.memory().numTensors;
    const grads = gradsByName(model, { ...inp, force_drop_ids: [0, 1] });
    expect(tf.memory().numTensors).toBe(before);
    const trainable = [...model.namedParameters()].filter(([, p]) => p.trainable).map(([k]) => k);
    expect([...grads.keys()].sort()).toEqual(trainable.sort());
    expect(trainable).not.toContain('rope.freqs');
    const bad = [...grads].filter(([, g]) => !g.finite || g.norm === 0).map(([k, g]) => `${k}: ${g.finite ? 'zero' : 'non-finite'}`);
    expect(bad).toEqual([]);
    tf.dispose(Object.values(inp).filter((v): v is tf.Tensor => v instanceof tf.Tensor));
    model.dispose();
  });

  it('gradients match central differences through every path', () => {
    // Existence is not correctness: a wrong backward (attention, RoPE, qk-norm, window padding,
    // masks) still trains, just badly. float32 differences with a relative step of 1e-2 agree to
    // about 1%; 5% separates that from a wrong formula.
    const model = new STDiT3(cfg, { referenceInit: false, seed: 6 }).eval();
    const inp = inputs();
    const probe = tf.randomNormal(tf.tidy(() => model.forward(inp).shape), 0, 1, 'float32', 15);
    const loss = () => tf.sum(tf.mul(model.forward(inp), probe)) as tf.Scalar;
    const names = [
      'x_embedder.proj.weight', 'x_embedder_cond.proj.weight', 'x_embedder_cond_mask.proj.bias', 't_block.1.weight', 'fps_embedder.mlp.0.weight',
      'y_embedder.y_proj.fc1.weight', 'spatial_blocks.0.scale_shift_table', 'spatial_blocks.1.attn.qkv.weight', 'spatial_blocks.1.attn.q_norm.weight',
      'spatial_blocks.1.cross_attn.kv_linear.weight', 'temporal_blocks.0.attn.qkv.weight', 'temporal_blocks.0.attn.k_norm.weight',
      'temporal_blocks.1.attn.proj.weight', 'temporal_blocks.1.mlp.fc1.weight', 'final_layer.scale_shift_table', 'final_layer.linear.weight',
    ];
    const params = new Map([...model.namedParameters()]);
    const variables = names.map((k) => params.get(k)!.variable!);
    const { value, grads } = tf.variableGrads(loss, variables);
    const mismatches: string[] = [];
    names.forEach((name, n) => {
      const v = variables[n]!;
      const g = grads[v.name]!.dataSync();
      const base = v.dataSync().slice();
      // The entries with the largest analytic gradient, where float32 differences are meaningful.
      const top = [...g.keys()].sort((a, b) => Math.abs(g[b]!) - Math.abs(g[a]!)).slice(0, 2);
      for (const i of top) {
        const eps = 1e-2 * Math.max(1, Math.abs(base[i]!));
        // Inside tidy, so the temporary value tensors go once the variable holds their data.
        const at = (d: number) =>
          tf.tidy(() => {
            const c = base.slice();
            c[i] = base[i]! + d;
            v.assign(tf.tensor(c, v.shape));
            return loss().dataSync()[0]!;
          });
        const fd = (at(eps) - at(-eps)) / (2 * eps);
        tf.tidy(() => v.assign(tf.tensor(base, v.shape)));
        const rel = Math.abs(fd - g[i]!) / Math.max(Math.abs(fd), Math.abs(g[i]!), 1e-2);
        if (rel > 0.05) mismatches.push(`${name}[${i}]: analytic ${g[i]} vs difference ${fd}`);
      }
    });
    expect(mismatches).toEqual([]);
    tf.dispose([value, probe, ...Object.values(grads)]);
    tf.dispose(Object.values(inp).filter((v): v is tf.Tensor => v instanceof tf.Tensor));
    model.dispose();
  });

  it('with the reference init, zero-initialised outputs block exactly the gradients they should', () => {
    const model = new STDiT3(cfg, { seed: 2 }).train();
    const inp = inputs();
    const grads = gradsByName(model, inp);
    for (const [, g] of grads) expect(g.finite).toBe(true);
    const norm = (k: string) => grads.get(k)!.norm;
    // temporal attn.proj / mlp.fc2 start at zero: what feeds them gets no gradient yet ...
    expect(norm('temporal_blocks.0.attn.qkv.weight')).toBe(0);
    expect(norm('temporal_blocks.0.mlp.fc1.weight')).toBe(0);
    expect(norm('fps_embedder.mlp.0.weight')).toBe(0);
    // ... while they themselves, and the zero-init cond embedders, learn.
    expect(norm('temporal_blocks.0.attn.proj.weight')).toBeGreaterThan(0);
    expect(norm('temporal_blocks.0.mlp.fc2.weight')).toBeGreaterThan(0);
    expect(norm('fps_embedder.mlp.2.weight')).toBeGreaterThan(0);
    expect(norm('x_embedder_cond.proj.weight')).toBeGreaterThan(0);
    expect(norm('x_embedder_cond_mask.proj.weight')).toBeGreaterThan(0);
    expect(norm('spatial_blocks.0.attn.qkv.weight')).toBeGreaterThan(0);
    tf.dispose(Object.values(inp).filter((v): v is tf.Tensor => v instanceof tf.Tensor));
    model.dispose();
  });

  it('keeps tf.memory().numTensors flat across forwards', () => {
    const model = new STDiT3(cfg, { seed: 3 });
    const inp = inputs();
    const base = tf.memory().numTensors;
    model.forward(inp).dispose();
    const after1 = tf.memory().numTensors;
    model.forward(inp).dispose();
    expect(after1).toBe(base);
    expect(tf.memory().numTensors).toBe(base);
    tf.dispose(Object.values(inp).filter((v): v is tf.Tensor => v instanceof tf.Tensor));
    model.dispose();
  });

  it('caption dropout replaces whole captions by y_embedding, reproducibly from the seed', () => {
    const model = new STDiT3({ ...cfg, class_dropout_prob: 1 }, { referenceInit: false, seed: 4 });
    tf.tidy(() => {
      const inp = inputs();
      const nullY = tf.tile(tf.reshape(model.yEmbedder.nullCaption, [1, 1, 4, 8]), [2, 1, 1, 1]);
      // y_null is a caption too: in training it is dropped like y.
      const evalOut = model.eval().forward({ ...inp, y: nullY, y_null: nullY });
      const dropped = model.train().forward(inp);
      expect(tf.max(tf.abs(tf.sub(evalOut, dropped))).dataSync()[0]).toBe(0);
      const kept = model.eval().forward(inp);
      expect(tf.max(tf.abs(tf.sub(kept, dropped))).dataSync()[0]).toBeGreaterThan(1e-3);
      // p = 0.5 per sample: the same seed gives the same draws.
      model.train();
      model.rng.reseed(9);
      const a = model.forward({ ...inp, text_uncond_prob: 0.5 });
      model.rng.reseed(9);
      const b = model.forward({ ...inp, text_uncond_prob: 0.5 });
      expect(tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]).toBe(0);
    });
    model.dispose();
  });

  it('the sampler function is the forward pass', () => {
    const model = new STDiT3(cfg, { seed: 5 });
    tf.tidy(() => {
      const { x, timestep, ...cond } = inputs();
      const fn = stdit3ModelFn(model, { velocityOnly: true });
      const v = fn(x, timestep as number[], cond);
      const full = model.forward({ ...cond, x, timestep });
      expect(v.shape).toEqual([2, 16, 3, 6, 5]);
      expect(tf.max(tf.abs(tf.sub(v, tf.slice(full, [0, 0, 0, 0, 0], [2, 16, 3, 6, 5])))).dataSync()[0]).toBe(0);
    });
    model.dispose();
  });
});
