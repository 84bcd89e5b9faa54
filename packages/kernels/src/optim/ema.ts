// The EMA copy of the model: float32 variables for every parameter, updated as
// ema = decay·ema + (1 - decay)·param for the trainable ones (frozen ones keep their copy), as the
// reference's update_ema. Saved in the model's state-dict layout so it loads like any checkpoint.
import { tf } from '../tf.js';
import type { Module } from '../nn/module.js';
import type { HostTensor, WritableTensor } from '../safetensors.js';
import { emaUpdate } from './multi-tensor.js';

export class Ema {
  private readonly shadow = new Map<string, tf.Variable>();

  constructor(
    private readonly model: Module,
    readonly decay: number,
  ) {
    for (const [name, p] of model.namedParameters()) {
      if (p.variable) this.shadow.set(name, tf.tidy(() => tf.variable(p.variable!.clone(), false)));
    }
  }

  /** One EMA step toward the model's current weights (one kernel call where the backend has 'OpensoraEmaUpdate'). */
  update(): void {
    const shadows: tf.Variable[] = [];
    const params: tf.Tensor[] = [];
    for (const [name, p] of this.model.namedParameters()) {
      if (!p.trainable || !p.variable) continue;
      shadows.push(this.shadow.get(name)!);
      params.push(p.variable);
    }
    emaUpdate(shadows, params, this.decay);
  }

  /** The EMA weights as a state dict (PyTorch layout), buffers taken from the model. */
  stateDict(): Map<string, WritableTensor> {
    const out = new Map<string, WritableTensor>();
    for (const [name, p] of this.model.namedParameters()) {
      const e = this.shadow.get(name);
      if (!e) continue;
      const t = tf.tidy(() => (p.options.toTorch ? p.options.toTorch(e) : e.clone()));
      // slice(): a clone shares the EMA's live buffer, which the next update may overwrite in place.
      out.set(name, { shape: [...p.torchShape], data: (t.dataSync() as Float32Array).slice() });
      t.dispose();
    }
    for (const [name, b] of this.model.namedBuffers()) {
      if (!b.persistent || !b.tensor) continue;
      const data = b.tensor.dataSync();
      out.set(name, { shape: [...b.torchShape], data: data instanceof Float32Array || data instanceof Int32Array ? data : Float32Array.from(data as ArrayLike<number>) });
    }
    return out;
  }

  /** Loads EMA weights saved by stateDict() (PyTorch layout). */
  load(sd: ReadonlyMap<string, HostTensor>, source = 'ema'): void {
    for (const [name, p] of this.model.namedParameters()) {
      const e = this.shadow.get(name);
      const t = sd.get(name);
      if (!e) continue;
      if (!t) throw new Error(`${source}: missing EMA weight '${name}'.`);
      if (t.shape.join() !== p.torchShape.join()) throw new Error(`${source}: EMA weight '${name}' has shape [${t.shape}], expected [${p.torchShape}].`);
      tf.tidy(() => {
        const v = tf.tensor(t.data as Float32Array, t.shape, 'float32');
        e.assign(p.options.toLocal ? p.options.toLocal(v) : v);
      });
    }
  }

  dispose(): void {
    for (const v of this.shadow.values()) v.dispose();
    this.shadow.clear();
  }
}
