// AdamW over named tf.Variables with PyTorch's update order (decoupled weight decay, bias
// correction, eps added after sqrt(v)/sqrt(1-beta2^t)), as HybridAdam(adamw_mode=True) does. The
// moments are variables of their own so a checkpoint can save and restore them exactly. A step is
// one multi-tensor kernel call where the backend has 'OpensoraAdamW' (multi-tensor.ts).
import { tf } from '../tf.js';
import type { HostTensor } from '../safetensors.js';
import { adamwUpdate } from './multi-tensor.js';

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
      // tidy: the zeros are the variables' own (no second tensor holds them), so steps can update in place.
      this.m.set(name, tf.tidy(() => tf.variable(tf.zerosLike(p), false, `adamw.m.${name}.${uid()}`)));
      this.v.set(name, tf.tidy(() => tf.variable(tf.zerosLike(p), false, `adamw.v.${name}.${uid()}`)));
    }
  }

  /**
   * One update with `grads` (name -> gradient, same shape as the variable); missing names are skipped.
   * `gradScale` multiplies every gradient first: pass `clipCoefficient(globalGradNorm(grads), maxNorm)`
   * to clip without making clipped copies (same numbers as applying `clipGradNorm`'s output).
   */
  apply(grads: ReadonlyMap<string, tf.Tensor>, options: { gradScale?: number } = {}): void {
    this.step++;
    const [beta1, beta2] = this.betas;
    const names = [...this.params.keys()].filter((n) => grads.has(n));
    adamwUpdate(
      names.map((n) => this.params.get(n)!),
      names.map((n) => grads.get(n)!),
      names.map((n) => this.m.get(n)!),
      names.map((n) => this.v.get(n)!),
      { beta1, beta2, eps: this.eps, lr: this.lr, weightDecay: this.weightDecay, step: this.step, gradScale: options.gradScale ?? 1 },
    );
  }

  /** The step count and a copy of every moment (later steps do not change it). */
  state(): AdamWState {
    const moments = new Map<string, { m: Float32Array; v: Float32Array; shape: number[] }>();
    for (const [name, p] of this.params) {
      // slice(): on cpu-like backends dataSync() is the live buffer, which the next step may overwrite.
      moments.set(name, { m: (this.m.get(name)!.dataSync() as Float32Array).slice(), v: (this.v.get(name)!.dataSync() as Float32Array).slice(), shape: [...p.shape] });
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
