// timm's Mlp as STDiT3 uses it: fc1 -> GELU(tanh) -> fc2 (state-dict names fc1/fc2).
import { Linear, Module, geluTanh, tf } from '@opensora-ts/kernels';

export class Mlp extends Module {
  readonly fc1: Linear;
  readonly fc2: Linear;
  constructor(inFeatures: number, hiddenFeatures: number, outFeatures = inFeatures) {
    super();
    this.fc1 = this.registerModule('fc1', new Linear(inFeatures, hiddenFeatures));
    this.fc2 = this.registerModule('fc2', new Linear(hiddenFeatures, outFeatures));
  }
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.fc2.forward(geluTanh(this.fc1.forward(x))));
  }
}
