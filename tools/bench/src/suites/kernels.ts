// `pnpm bench kernels`: the hot ops of Open-Sora, each on our backends and on PyTorch CPU with
// the same shapes. Convolutions are NDHWC here and NCDHW in PyTorch (each framework's native
// layout; same arithmetic).
import { geluTanh, layerNorm, scaledDotProductAttention, tf } from '@opensora-ts/kernels';
import { torchRowNote, useBackend } from '../backends.js';
import type { SuiteOptions } from '../cli.js';
import { makeRow, REFERENCE_BACKEND, withTorchRatios, type Row } from '../report.js';
import { timeIt, type TimingOptions } from '../timing.js';
import { findTorchPython, runTorch, type TorchCase } from '../torch.js';

interface OpCase {
  op: string;
  /** Floating-point operations of one step (null: memory-bound, no GFLOP/s column). */
  flops: number | null;
  /** Builds inputs on the active backend and returns one step (outputs disposed by the caller). */
  tfjs: () => { step: () => tf.Tensor | tf.Tensor[]; dispose: () => void };
  torch: string;
}

const conv3dShape = { x: [1, 9, 64, 64, 64], f: [3, 3, 3, 64, 64] } as const;
const conv3dFlops = 2 * 9 * 64 * 64 * 64 * 64 * 27;

function inputs<T extends tf.Tensor[]>(make: () => T): T {
  return tf.tidy(make);
}

/**
 * Attention at the model's shapes: q [b, h, nq, d], k and v [b, h, nk, d]; `valid` keys of nk
 * allowed per batch entry (a padded caption) when given. Ours is `scaledDotProductAttention`
 * (the fused kernel), PyTorch's is `F.scaled_dot_product_attention` with a boolean mask.
 */
interface AttnShape {
  b: number;
  h: number;
  nq: number;
  nk: number;
  d: number;
  valid?: number;
}

function attentionCase(op: string, a: AttnShape, backward: boolean): OpCase {
  const { b, h, nq, nk, d, valid } = a;
  // QK^T and PV: 4 b h nq nk d; the backward adds five GEMMs of the same size (recomputed scores, dP, dQ, dK, dV).
  const fwd = 4 * b * h * nq * nk * d;
  const torchMask = valid === undefined ? 'm = None' : `m = torch.zeros(${b}, 1, 1, ${nk}, dtype=torch.bool); m[..., :${valid}] = True`;
  return {
    op,
    flops: backward ? fwd * 3.5 : fwd,
    tfjs: () => {
      const [q, k, v, dy, mask] = inputs(() => {
        const m = valid === undefined ? null : tf.tile(tf.concat([tf.ones([1, valid], 'int32'), tf.zeros([1, nk - valid], 'int32')], 1), [b, 1]);
        return [tf.randomNormal([b, h, nq, d]), tf.randomNormal([b, h, nk, d]), tf.randomNormal([b, h, nk, d]), tf.randomNormal([b, h, nq, d]), ...(m ? [m] : [])];
      }) as tf.Tensor4D[];
      const keyMask = mask ?? null;
      const f = (qq: tf.Tensor, kk: tf.Tensor, vv: tf.Tensor) => scaledDotProductAttention(qq as tf.Tensor4D, kk as tf.Tensor4D, vv as tf.Tensor4D, { keyMask });
      const loss = (qq: tf.Tensor, kk: tf.Tensor, vv: tf.Tensor) => tf.sum(tf.mul(f(qq, kk, vv), dy!));
      return {
        step: backward ? () => tf.grads(loss)([q!, k!, v!]) : () => f(q!, k!, v!),
        dispose: () => tf.dispose([q!, k!, v!, dy!, ...(mask ? [mask] : [])]),
      };
    },
    torch: backward
      ? [
          `q = torch.randn(${b}, ${h}, ${nq}, ${d}, requires_grad=True); k = torch.randn(${b}, ${h}, ${nk}, ${d}, requires_grad=True)`,
          `v = torch.randn(${b}, ${h}, ${nk}, ${d}, requires_grad=True); dy = torch.randn(${b}, ${h}, ${nq}, ${d})`,
          torchMask,
          'def step():',
          '    q.grad = None; k.grad = None; v.grad = None',
          '    F.scaled_dot_product_attention(q, k, v, attn_mask=m).backward(dy)',
        ].join('\n')
      : [
          `q = torch.randn(${b}, ${h}, ${nq}, ${d}); k = torch.randn(${b}, ${h}, ${nk}, ${d}); v = torch.randn(${b}, ${h}, ${nk}, ${d})`,
          torchMask,
          'def step(): F.scaled_dot_product_attention(q, k, v, attn_mask=m)',
        ].join('\n'),
  };
}

/** STDiT3-XL/2 (16 heads of 72) at a 256x256 latent (16x16 patches), the mid model's windowed temporal attention, a 300-token caption with 120 valid. */
const ATTN_SPATIAL: AttnShape = { b: 4, h: 16, nq: 256, nk: 256, d: 72 };
const ATTN_LONG: AttnShape = { b: 1, h: 16, nq: 1024, nk: 1024, d: 72 };
const ATTN_TEMPORAL: AttnShape = { b: 256, h: 16, nq: 8, nk: 8, d: 72 };
const ATTN_CROSS: AttnShape = { b: 2, h: 16, nq: 1024, nk: 300, d: 72, valid: 120 };
const ATTN_MID: AttnShape = { b: 2, h: 8, nq: 320, nk: 320, d: 48 };

export const OPS: OpCase[] = [
  {
    op: 'matmul',
    flops: 2 * 1024 ** 3,
    tfjs: () => {
      const [a, b] = inputs(() => [tf.randomNormal([1024, 1024]), tf.randomNormal([1024, 1024])]);
      return { step: () => tf.matMul(a, b), dispose: () => tf.dispose([a, b]) };
    },
    torch: 'a = torch.randn(1024, 1024); b = torch.randn(1024, 1024)\ndef step(): torch.matmul(a, b)',
  },
  {
    op: 'bmm_qk',
    flops: 2 * 16 * 1024 * 1024 * 64,
    tfjs: () => {
      const [a, b] = inputs(() => [tf.randomNormal([16, 1024, 64]), tf.randomNormal([16, 64, 1024])]);
      return { step: () => tf.matMul(a, b), dispose: () => tf.dispose([a, b]) };
    },
    torch: 'a = torch.randn(16, 1024, 64); b = torch.randn(16, 64, 1024)\ndef step(): torch.bmm(a, b)',
  },
  {
    op: 'bmm_pv',
    flops: 2 * 16 * 1024 * 1024 * 64,
    tfjs: () => {
      const [a, b] = inputs(() => [tf.randomNormal([16, 1024, 1024]), tf.randomNormal([16, 1024, 64])]);
      return { step: () => tf.matMul(a, b), dispose: () => tf.dispose([a, b]) };
    },
    torch: 'a = torch.randn(16, 1024, 1024); b = torch.randn(16, 1024, 64)\ndef step(): torch.bmm(a, b)',
  },
  {
    op: 'softmax',
    flops: null,
    tfjs: () => {
      const [x] = inputs(() => [tf.randomNormal([16, 1024, 1024])]);
      return { step: () => tf.softmax(x), dispose: () => x.dispose() };
    },
    torch: 'x = torch.randn(16, 1024, 1024)\ndef step(): torch.softmax(x, -1)',
  },
  {
    op: 'layernorm',
    flops: null,
    tfjs: () => {
      const [x, g, b] = inputs(() => [tf.randomNormal([4096, 1152]), tf.randomNormal([1152]), tf.randomNormal([1152])]);
      return { step: () => layerNorm(x, g, b, 1e-6), dispose: () => tf.dispose([x, g, b]) };
    },
    torch: 'x = torch.randn(4096, 1152); g = torch.randn(1152); b = torch.randn(1152)\ndef step(): F.layer_norm(x, (1152,), g, b, 1e-6)',
  },
  {
    op: 'gelu',
    flops: null,
    tfjs: () => {
      const [x] = inputs(() => [tf.randomNormal([4096, 4608])]);
      return { step: () => geluTanh(x), dispose: () => x.dispose() };
    },
    torch: 'x = torch.randn(4096, 4608)\ndef step(): F.gelu(x, approximate="tanh")',
  },
  attentionCase('attn_spatial', ATTN_SPATIAL, false),
  attentionCase('attn_spatial_bwd', ATTN_SPATIAL, true),
  attentionCase('attn_1024', ATTN_LONG, false),
  attentionCase('attn_1024_bwd', ATTN_LONG, true),
  attentionCase('attn_temporal_bwd', ATTN_TEMPORAL, true),
  attentionCase('attn_cross', ATTN_CROSS, false),
  attentionCase('attn_cross_bwd', ATTN_CROSS, true),
  attentionCase('attn_mid_bwd', ATTN_MID, true),
  {
    op: 'conv3d_fwd',
    flops: conv3dFlops,
    tfjs: () => {
      const [x, f] = inputs(() => [tf.randomNormal([...conv3dShape.x]), tf.randomNormal([...conv3dShape.f], 0, 0.05)]);
      return { step: () => tf.conv3d(x as tf.Tensor5D, f as tf.Tensor5D, 1, 'same'), dispose: () => tf.dispose([x, f]) };
    },
    torch: 'x = torch.randn(1, 64, 9, 64, 64); w = torch.randn(64, 64, 3, 3, 3) * 0.05\ndef step(): F.conv3d(x, w, padding=1)',
  },
  {
    op: 'conv3d_fwd_bwd',
    flops: 3 * conv3dFlops,
    tfjs: () => {
      const [x, f, dy] = inputs(() => [
        tf.randomNormal([...conv3dShape.x]),
        tf.randomNormal([...conv3dShape.f], 0, 0.05),
        tf.randomNormal([...conv3dShape.x]),
      ]);
      const loss = (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.conv3d(a as tf.Tensor5D, b as tf.Tensor5D, 1, 'same'), dy));
      return { step: () => tf.grads(loss)([x, f]), dispose: () => tf.dispose([x, f, dy]) };
    },
    torch: [
      'x = torch.randn(1, 64, 9, 64, 64, requires_grad=True); w = (torch.randn(64, 64, 3, 3, 3) * 0.05).requires_grad_()',
      'dy = torch.randn(1, 64, 9, 64, 64)',
      'def step():',
      '    x.grad = None; w.grad = None',
      '    F.conv3d(x, w, padding=1).backward(dy)',
    ].join('\n'),
  },
];

/**
 * Pure-JS cpu runs these at ~0.5 GFLOP/s on an idle machine; the estimate drops to the slowest
 * rate measured so far in the run (a loaded machine is much slower). Ops estimated over the
 * limit are skipped, so cpu adds about a minute at most per op.
 */
const CPU_GFLOPS_ESTIMATE = 0.5;
const CPU_LIMIT_S = 30;

const TIMING: Required<TimingOptions> = { warmup: 1, minReps: 3, maxReps: 20, budgetMs: 2000 };
const SLOW_TIMING: TimingOptions = { warmup: 0, minReps: 1, maxReps: 1, budgetMs: 0 };

export async function run(o: SuiteOptions): Promise<Row[]> {
  const ops = o.ops.length ? OPS.filter((c) => o.ops.includes(c.op)) : OPS;
  const unknown = o.ops.filter((name) => !OPS.some((c) => c.op === name));
  if (unknown.length) throw new Error(`unknown op(s) ${unknown.join(', ')}; expected some of ${OPS.map((c) => c.op).join(', ')}`);
  const rows: Row[] = [];
  for (const backend of o.backends) {
    const started = await useBackend(backend, o.threads);
    if (!started.ok) {
      o.log(`skipping backend ${backend}: ${started.reason}`);
      continue;
    }
    if (backend === 'torch') o.log(`torch backend: ${await torchRowNote()}`);
    // tfjs-cpu is single-threaded whatever is asked.
    const threads = backend === 'cpu' ? 1 : o.threads;
    let cpuGflops = CPU_GFLOPS_ESTIMATE;
    for (const c of ops) {
      const slow = backend === 'cpu';
      const estimateS = c.flops === null ? 0 : c.flops / (cpuGflops * 1e9);
      if (slow && estimateS > CPU_LIMIT_S) {
        o.log(`skipping ${c.op} on cpu (about ${estimateS.toFixed(0)} s)`);
        continue;
      }
      const { step, dispose } = c.tfjs();
      const ms = timeIt(() => tf.dispose(step()), slow ? SLOW_TIMING : TIMING);
      dispose();
      if (slow && c.flops !== null) cpuGflops = Math.min(cpuGflops, c.flops / (ms * 1e6));
      rows.push(makeRow(c.op, backend, threads, ms, c.flops));
      o.log(`${c.op} ${backend}: ${ms.toFixed(1)} ms`);
    }
    // Host fallbacks, if any, are counted by now.
    if (backend === 'torch') o.footer(`torch: @opensora-ts/tfjs-backend-torch on ${await torchRowNote()}`);
  }
  if (o.torch) {
    const found = findTorchPython();
    if (found.python === null) {
      o.log(`skipping torch: ${found.reason}`);
    } else {
      const cases: TorchCase[] = ops.map((c) => ({ op: c.op, setup: c.torch }));
      const res = runTorch(found.python, cases, o.threads, TIMING);
      o.log(`pytorch ${res.version} (${found.python}), ${o.threads} thread(s)`);
      o.footer(`pytorch: PyTorch ${res.version} (${found.python})`);
      for (const c of ops) {
        const ms = res.ms[c.op];
        if (ms !== undefined) rows.push(makeRow(c.op, REFERENCE_BACKEND, o.threads, ms, c.flops));
      }
    }
  }
  const order = new Map(ops.map((c, i) => [c.op, i]));
  return withTorchRatios(rows).sort((a, b) => order.get(a.op)! - order.get(b.op)!);
}
