// The bench's training step, untimed: one step on the pure-JS cpu backend with the tiny STDiT3 on
// a small latent. It must give a finite loss, move every weight by AdamW's first-step size (lr:
// the first update is lr·sign(g)), move the EMA copy 1 - decay of that way, and leak no tensors.
import { spawnSync } from 'node:child_process';
import { tf } from '@opensora-ts/kernels';
import { STDiT3, parseSTDiT3Config, stdit3Preset } from '@opensora-ts/stdit';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeCaseRow } from '../report.js';
import { BENCH_PYTHON_DIR, findReference, findTorchPython } from '../torch.js';
import { BATCH, MODELS, STEP_SETTINGS, createTrainStep, formatRows, metaOf, type TrainRow } from './train.js';

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};

/** A model's state dict on the host (its tensors disposed). */
const hostState = (sd: Map<string, tf.Tensor>) => {
  const out = new Map<string, Float32Array>();
  for (const [k, t] of sd) {
    out.set(k, Float32Array.from(t.dataSync()));
    t.dispose();
  }
  return out;
};

describe('train suite: the DiT step', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('uses the stdit suite tiny and mid models at batch 2, with the reference optimizer settings', () => {
    expect(Object.keys(MODELS)).toEqual(['tiny', 'mid']);
    expect(MODELS.tiny!.latent).toEqual([BATCH, 16, 5, 16, 16]);
    expect(BATCH).toBe(2);
    expect(STEP_SETTINGS).toMatchObject({ lr: 1e-4, eps: 1e-15, weightDecay: 0, gradClip: 1, emaDecay: 0.99 });
    expect(metaOf([2, 16, 5, 16, 16])).toEqual({ height: 128, width: 128, numFrames: 17, fps: 24 });
  });

  it('one step on cpu: finite loss, AdamW-sized weight change, EMA follows, nothing leaks', () => {
    const model = new STDiT3(stdit3Preset('STDiT3-tiny'), { referenceInit: false, seed: 0 });
    const latent = [2, 16, 2, 8, 8];
    const batch = {
      x0: tf.randomNormal(latent, 0, 1, 'float32', 1),
      y: tf.randomNormal([2, 1, 12, 32], 0, 1, 'float32', 2),
      mask: tf.tensor2d([1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0], [2, 12], 'int32'),
      meta: metaOf(latent),
    };
    const stepper = createTrainStep(model, batch, 7);
    const trainable = new Set([...model.namedParameters()].filter(([, p]) => p.trainable && p.variable).map(([n]) => n));
    const before = hostState(model.stateDict());

    const noise = tf.randomNormal(latent, 0, 1, 'float32', 3);
    const check1 = stepper.lossAt([250, 750], noise);
    const check2 = stepper.lossAt([250, 750], noise);
    expect(Array.from(check1.dataSync())).toEqual(Array.from(check2.dataSync()));
    expect(model.training).toBe(true);
    tf.dispose([check1, check2]);

    const tensors = tf.memory().numTensors;
    const r = stepper.step();
    expect(Number.isFinite(r.loss) && r.loss > 0).toBe(true);
    expect(Number.isFinite(r.gradNorm) && r.gradNorm > 0).toBe(true);
    expect(stepper.optimizer.step).toBe(1);
    expect(tf.memory().numTensors).toBe(tensors);

    const after = hostState(model.stateDict());
    const ema = new Map([...stepper.ema.stateDict()].map(([k, t]) => [k, t.data as Float32Array]));
    const still: string[] = [];
    for (const name of trainable) {
      const d = maxAbsDiff(after.get(name)!, before.get(name)!);
      // First AdamW step: |Δ| = lr·|g|/(|g| + eps) = lr wherever the gradient is non-zero.
      expect(d, name).toBeLessThan(STEP_SETTINGS.lr * 1.01);
      if (d < STEP_SETTINGS.lr * 0.99) still.push(name);
      // EMA: ema - before = (1 - decay)·(after - before).
      const e = maxAbsDiff(ema.get(name)!, before.get(name)!);
      expect(Math.abs(e - (1 - STEP_SETTINGS.emaDecay) * d), name).toBeLessThan(5e-7);
    }
    // Only the I2V/V2V condition embedders' weights keep still: their inputs are zero in t2v.
    expect(still.sort()).toEqual(['x_embedder_cond.proj.weight', 'x_embedder_cond_mask.proj.weight']);

    stepper.step();
    expect(tf.memory().numTensors).toBe(tensors);
    stepper.dispose();
    tf.dispose([batch.x0, batch.y, batch.mask, noise]);
    model.dispose();
  });

  it('prints ms/step, samples/s and the torch ratio', () => {
    const rows: TrainRow[] = [
      { ...makeCaseRow('train', 'tiny.step', 'native', 2, 250, 300), ratio_to_torch: 1.2, batch: 2, samples_per_s: 8 },
      { ...makeCaseRow('train', 'tiny.step', 'pytorch', 2, 300, 350, 'fixed-t loss vs ours: rel L2 1e-6'), batch: 2, samples_per_s: 2 / 0.3 },
    ];
    const lines = formatRows(rows).split('\n');
    expect(lines[0]).toMatch(/^case\s+backend\s+threads\s+batch\s+ms\/step\s+samples\/s\s+peak RSS MiB\s+vs pytorch\s+note$/);
    expect(lines[2]).toMatch(/^tiny\.step\s+native\s+2\s+2\s+250\s+8\.000\s+300\s+1\.20x$/);
    expect(lines[3]).toMatch(/^tiny\.step\s+pytorch\s+2\s+2\s+300\s+6\.667\s+350\s+-\s+fixed-t loss vs ours: rel L2 1e-6$/);
  });
});

// The reference side (python/train_step.py), where python3-torch and OPENSORA_REFERENCE are here:
// the reference's loss and EMA import, the written-out fallbacks equal them, and the CPU caption
// dropout draw keeps the reference's token_drop semantics.
const python = findTorchPython();
const reference = findReference();
const skipReason = python.python === null ? python.reason : reference.root === null ? reference.reason : null;

const REFERENCE_CHECKS = String.raw`
import json, sys, torch
torch.set_num_threads(1)
torch.manual_seed(0)
import opensora_reference as R
R.install()
import train_step as TS
cfg = json.loads(sys.argv[1])
out = {}
losses, ema_update, used = TS.training_pieces()
out["used"] = used
model = TS.cpu_caption_dropout(R.build_stdit3(cfg))
B = 2
x = torch.randn(B, 16, 2, 8, 8)
full = lambda v: torch.full((B,), float(v))
mask = torch.zeros(B, 12, dtype=torch.int32); mask[:, :8] = 1
kw = dict(y=torch.randn(B, 1, 12, 32), mask=mask, fps=full(24), height=full(64), width=full(64), num_frames=full(5))
t = torch.tensor([250.0, 750.0]); noise = torch.randn_like(x)
with torch.no_grad():
    a = losses(model, x, kw, noise=noise, t=t)
    b = TS._written_losses(1000)(model, x, kw, noise=noise, t=t)
out["loss_rel"] = R.rel_l2(b, a)
sch_t = []
for f in (losses, TS._written_losses(1000)):
    torch.manual_seed(3)
    with torch.no_grad():
        sch_t.append(float(f(model, x, kw).mean()))
out["sampled"] = sch_t
emb = model.y_embedder
cap = torch.randn(B, 1, 12, 32)
out["drop_all"] = torch.equal(emb.token_drop(cap, uncond_prob=1.0), emb.y_embedding.expand_as(cap))
out["drop_none"] = torch.equal(emb.token_drop(cap, uncond_prob=0.0), cap)
model.train()
l = losses(model, x, kw).mean(); l.backward()
out["train_backward"] = all(p.grad is not None for p in model.parameters() if p.requires_grad)
import copy
e1 = copy.deepcopy(model); e2 = copy.deepcopy(model)
with torch.no_grad():
    for p in model.parameters(): p.add_(0.5)
ema_update(e1, model, 0.99); TS._written_update_ema(e2, model, 0.99)
out["ema_same"] = all(torch.equal(p, q) for p, q in zip(e1.parameters(), e2.parameters()))
out["ema_moved"] = any(not torch.equal(p, q) for p, q in zip(e1.parameters(), copy.deepcopy(model).parameters()))
print(json.dumps(out))
`;

describe('train suite: the reference step (python)', () => {
  it.skipIf(skipReason !== null)(`imports the reference loss and EMA; the written-out fallbacks equal them${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
    const r = spawnSync(python.python!, ['-c', REFERENCE_CHECKS, JSON.stringify(parseSTDiT3Config(stdit3Preset('STDiT3-tiny')))], {
      encoding: 'utf8',
      env: { ...process.env, PYTHONPATH: BENCH_PYTHON_DIR, PYTHONDONTWRITEBYTECODE: '1', OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1' },
    });
    expect(r.stderr).not.toMatch(/Traceback/);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
    expect(out.used).toBe('loss: reference RFlowScheduler.training_losses, ema: reference update_ema');
    expect(out.loss_rel).toBeLessThan(1e-6);
    // Same seed, both ways: the written-out logit-normal draw, shift and noise consume torch's
    // generator as the reference does, so the sampled losses are the same number.
    const [ref, written] = out.sampled as [number, number];
    expect(Number.isFinite(ref)).toBe(true);
    expect(written).toBe(ref);
    expect(out).toMatchObject({ drop_all: true, drop_none: true, train_backward: true, ema_same: true, ema_moved: true });
  });
});
