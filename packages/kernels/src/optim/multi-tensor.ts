// The optimizer step over a whole model in a few kernel calls. Where the active backend registered
// 'OpensoraAdamW' / 'OpensoraEmaUpdate' / 'OpensoraGlobalNorm' (the native backend does), each is one
// call over every tensor; elsewhere the composites of composites.ts run tensor by tensor. Both give
// the same numbers (optim's tests compare them on every backend).
import { tf } from '../tf.js';
import { fusedKernelAvailable } from '../fused/registry.js';
import { adamwComposite, adamwScalars, emaComposite, globalNormComposite, type AdamWConstants } from './composites.js';

function checkLengths(what: string, lists: readonly (readonly unknown[])[]): void {
  const n = lists[0]!.length;
  if (lists.some((l) => l.length !== n)) throw new Error(`${what}: lists of ${lists.map((l) => l.length).join(' / ')} tensors, expected the same count in each`);
}

function run(kernel: string, inputs: tf.Tensor[], attrs: Record<string, number>): tf.Tensor[] {
  const out = tf.engine().runKernel(kernel, inputs as unknown as tf.NamedTensorMap, attrs as unknown as tf.NamedAttrMap);
  return Array.isArray(out) ? (out as tf.Tensor[]) : [out as tf.Tensor];
}

/**
 * One AdamW update of `params` (and their moments `m`, `v`) with `grads`, all lists in the same
 * order. The kernel path updates the variables' buffers in place where no other tensor shares them.
 */
export function adamwUpdate(params: readonly tf.Variable[], grads: readonly tf.Tensor[], m: readonly tf.Variable[], v: readonly tf.Variable[], c: AdamWConstants): void {
  checkLengths('adamwUpdate', [params, grads, m, v]);
  if (!params.length) return;
  if (!fusedKernelAvailable('OpensoraAdamW')) {
    params.forEach((p, i) => {
      const [p1, m1, v1] = adamwComposite(p, grads[i]!, m[i]!, v[i]!, c);
      p.assign(p1);
      m[i]!.assign(m1);
      v[i]!.assign(v1);
      tf.dispose([p1, m1, v1]);
    });
    return;
  }
  const s = adamwScalars(c);
  const attrs = { ...s, hasDecay: s.hasDecay ? 1 : 0, hasGradScale: s.hasGradScale ? 1 : 0, n: params.length, inPlace: 1 };
  const outs = run('OpensoraAdamW', [...params, ...grads, ...m, ...v], attrs);
  const n = params.length;
  params.forEach((p, i) => {
    p.assign(outs[i]!);
    m[i]!.assign(outs[n + i]!);
    v[i]!.assign(outs[2 * n + i]!);
  });
  tf.dispose(outs);
}

/** ema_i = ema_i*decay + param_i*(1 - decay) for every pair. */
export function emaUpdate(ema: readonly tf.Variable[], params: readonly tf.Tensor[], decay: number): void {
  checkLengths('emaUpdate', [ema, params]);
  if (!ema.length) return;
  if (!fusedKernelAvailable('OpensoraEmaUpdate')) {
    ema.forEach((e, i) => {
      const e1 = emaComposite(e, params[i]!, decay);
      e.assign(e1);
      e1.dispose();
    });
    return;
  }
  const outs = run('OpensoraEmaUpdate', [...ema, ...params], { n: ema.length, decay, oneMinusDecay: 1 - decay, inPlace: 1 });
  ema.forEach((e, i) => e.assign(outs[i]!));
  tf.dispose(outs);
}

/** The L2 norm of all tensors together, as a JS number (clip_grad_norm_'s total norm). */
export function globalNorm(xs: readonly tf.Tensor[]): number {
  if (!xs.length) return 0;
  const t = fusedKernelAvailable('OpensoraGlobalNorm') ? run('OpensoraGlobalNorm', [...xs], {})[0]! : globalNormComposite(xs);
  const norm = t.dataSync()[0]!;
  t.dispose();
  return norm;
}
