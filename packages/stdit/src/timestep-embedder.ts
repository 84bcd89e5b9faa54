// Timestep and fps embedders: the 256-d sinusoid [cos, sin] (formed in float64 by kernels'
// timestepEmbedding) then Linear -> SiLU -> Linear, with PyTorch's mlp.0 / mlp.2 key names.
import { Linear, Module, ModuleList, SiLU, tf, timestepEmbedding } from '@opensora-ts/kernels';

export const FREQUENCY_EMBEDDING_SIZE = 256;

export class TimestepEmbedder extends Module {
  readonly mlp: ModuleList;
  constructor(readonly hiddenSize: number, readonly frequencySize = FREQUENCY_EMBEDDING_SIZE) {
    super();
    this.mlp = this.registerModule('mlp', new ModuleList([new Linear(frequencySize, hiddenSize), new SiLU(), new Linear(hiddenSize, hiddenSize)]));
  }

  /** t: one scalar per sample (the scheduler's t in [0, 1000]) -> [B, hidden]. */
  forward(t: ArrayLike<number>): tf.Tensor2D {
    return tf.tidy(() => {
      const freq = timestepEmbedding(t, this.frequencySize);
      const [l0, act, l2] = this.mlp.items as [Linear, SiLU, Linear];
      return l2.forward(act.forward(l0.forward(freq))) as tf.Tensor2D;
    });
  }
}

/** SizeEmbedder as STDiT3 uses it for fps: a scalar per sample (repeated to the batch) embedded like a timestep. */
export class SizeEmbedder extends TimestepEmbedder {
  forwardBatch(s: ArrayLike<number>, batch: number): tf.Tensor2D {
    if (s.length === 0 || batch % s.length !== 0) {
      throw new Error(`fps: ${s.length} values cannot be repeated to batch ${batch}; pass 1 or ${batch} values`);
    }
    const rep = new Array<number>(batch);
    for (let i = 0; i < batch; i++) rep[i] = s[i % s.length]!;
    return this.forward(rep);
  }
}
