// AdamW over named tf.Variables with PyTorch's update order (decoupled weight decay, bias
// correction, eps added after sqrt(v)/sqrt(1-beta2^t)), as HybridAdam(adamw_mode=True) does. The
// moments are variables of their own so a checkpoint can save and restore them exactly.
import { tf } from '../tf.js';
import type { HostTensor } from '../safetensors.js';

export interface AdamWOptions {
  lr: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
}

export interface AdamWState {
  step: number;
  /** name -> first and second moment (compute layout of the parameter). */
  moments: Map<string, { m: Float32Array; v: Float32Array; shape: number[] }>;
}

export class AdamW {
  readonly params: ReadonlyMap<string, tf.Variable>;
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();
  private readonly betas: [number, number];
  private readonly eps: number;
  private readonly weightDecay: number;
  lr: number;
  /** Updates applied so far (the bias-correction exponent). */
  step = 0;

  constructor(params: Iterable<[string, tf.Variable]>, options: AdamWOptions) {
    this.params = new Map(params);
    this.lr = options.lr;
    this.betas = options.betas ?? [0.9, 0.999];
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0;
    for (const [name, p] of this.params) {
      this.m.set(name, tf.variable(tf.zerosLike(p), false, `adamw.m.${name}.${uid()}`));
      this.v.set(name, tf.variable(tf.zerosLike(p), false, `adamw.v.${name}.${uid()}`));
    }
  }

  /** One update with `grads` (name -> gradient, same shape as the variable); missing names are skipped. */
  apply(grads: ReadonlyMap<string, tf.Tensor>): void {
    this.step++;
    const [b1, b2] = this.betas;
    const bc1 = 1 - b1 ** this.step;
    const bc2 = 1 - b2 ** this.step;
    const stepSize = this.lr / bc1;
    const sqrtBc2 = Math.sqrt(bc2);
    for (const [name, p] of this.params) {
      const g = grads.get(name);
      if (!g) continue;
      const m = this.m.get(name)!;
      const v = this.v.get(name)!;
      tf.tidy(() => {
        const m1 = m.mul(b1).add(g.mul(1 - b1));
        const v1 = v.mul(b2).add(g.square().mul(1 - b2));
        m.assign(m1);
        v.assign(v1);
        const decayed = this.weightDecay > 0 ? p.mul(1 - this.lr * this.weightDecay) : p;
        const denom = v1.sqrt().div(sqrtBc2).add(this.eps);
        p.assign(decayed.sub(m1.div(denom).mul(stepSize)));
      });
    }
  }

  state(): AdamWState {
    const moments = new Map<string, { m: Float32Array; v: Float32Array; shape: number[] }>();
    for (const [name, p] of this.params) {
      moments.set(name, { m: this.m.get(name)!.dataSync() as Float32Array, v: this.v.get(name)!.dataSync() as Float32Array, shape: [...p.shape] });
    }
    return { step: this.step, moments };
  }

  /** Restores moments saved by `state()` (e.g. from a checkpoint); every parameter must be present. */
  load(step: number, moments: ReadonlyMap<string, { m: HostTensor; v: HostTensor }>, source = 'optimizer state'): void {
    const missing = [...this.params.keys()].filter((n) => !moments.has(n));
    if (missing.length) throw new Error(`${source}: no moments for ${missing.length} parameter(s) (${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', ...' : ''}); the checkpoint belongs to a different model or freezing setup.`);
    for (const [name, p] of this.params) {
      const s = moments.get(name)!;
      for (const [what, t] of [['m', s.m], ['v', s.v]] as const) {
        if (t.shape.join() !== p.shape.join()) throw new Error(`${source}: moment '${what}' of '${name}' has shape [${t.shape}], expected [${p.shape}].`);
        const value = tf.tensor(t.data as Float32Array, p.shape, 'float32');
        (what === 'm' ? this.m : this.v).get(name)!.assign(value);
        value.dispose();
      }
    }
    this.step = step;
  }

  dispose(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose();
    this.m.clear();
    this.v.clear();
  }
}

let counter = 0;
function uid(): number {
  return counter++;
}
