// LPIPS (VGG16 variant, as taming-transformers / the reference's lpips.py): scaling layer,
// VGG16 features at relu1_2..relu5_3, unit-normalised over channels, squared differences,
// 1x1 `lin` convs, spatial means, summed. Weights cannot be downloaded here: load them from a
// local checkpoint (safetensors, or a torch.save .pth of the reference LPIPS module's state_dict())
// holding `net.slice{1..5}.{i}.weight|bias` and `lin{0..4}.model.1.weight`.
import { Conv2d, Module, readCheckpoint, tf } from '@opensora-ts/kernels';
import { Namespace } from './namespace.js';

const CHANNELS = [64, 128, 256, 512, 512];
/** torchvision vgg16.features conv layers: [index in features, in, out], grouped by slice. */
const SLICES: [number, number, number][][] = [
  [[0, 3, 64], [2, 64, 64]],
  [[5, 64, 128], [7, 128, 128]],
  [[10, 128, 256], [12, 256, 256], [14, 256, 256]],
  [[17, 256, 512], [19, 512, 512], [21, 512, 512]],
  [[24, 512, 512], [26, 512, 512], [28, 512, 512]],
];
const SHIFT = [-0.03, -0.088, -0.188];
const SCALE = [0.458, 0.448, 0.45];

export class LPIPS extends Module {
  private readonly slices: Conv2d[][] = [];
  private readonly lins: Conv2d[] = [];

  constructor() {
    super();
    let slices: Conv2d[][] = [];
    let lins: Conv2d[] = [];
    tf.tidy(() => {
      const net = new Namespace();
      slices = SLICES.map((convs, s) => {
        const ns = new Namespace();
        const mods = convs.map(([i, cin, cout]) => ns.add(String(i), new Conv2d(cin, cout, 3, { padding: 1 })));
        net.add(`slice${s + 1}`, ns);
        return mods;
      });
      this.registerModule('net', net);
      lins = CHANNELS.map((c, k) => {
        const conv = new Conv2d(c, 1, 1, { bias: false });
        const lin = new Namespace();
        lin.add('model', new Namespace()).add('1', conv); // model.0 is the (parameter-free) dropout
        this.registerModule(`lin${k}`, lin);
        return conv;
      });
    });
    this.slices.push(...slices);
    this.lins.push(...lins);
    this.freeze();
  }

  /** Per-image distance [N] for images [N, H, W, 3] in [-1, 1] (channels-last). */
  forward(a: tf.Tensor4D, b: tf.Tensor4D): tf.Tensor1D {
    return tf.tidy(() => {
      const fa = this.features(a);
      const fb = this.features(b);
      let total: tf.Tensor | null = null;
      fa.forEach((x, k) => {
        const unit = (f: tf.Tensor) => tf.div(f, tf.add(tf.sqrt(tf.sum(tf.square(f), -1, true)), 1e-10));
        const diff = tf.square(tf.sub(unit(x), unit(fb[k]!))) as tf.Tensor4D;
        const v = tf.mean(this.lins[k]!.forward(diff), [1, 2, 3]);
        total = total ? tf.add(total, v) : v;
      });
      return total! as tf.Tensor1D;
    });
  }

  private features(x: tf.Tensor4D): tf.Tensor4D[] {
    let h = tf.div(tf.sub(x, tf.tensor1d(SHIFT)), tf.tensor1d(SCALE)) as tf.Tensor4D;
    const outs: tf.Tensor4D[] = [];
    this.slices.forEach((convs, s) => {
      if (s > 0) h = tf.maxPool(h, 2, 2, 'valid');
      for (const c of convs) h = tf.relu(c.forward(h));
      outs.push(h);
    });
    return outs;
  }
}

/**
 * Loads LPIPS from a local checkpoint, .safetensors or torch.save .pth (the VGG16 features and
 * the lin layers, keys as the reference's LPIPS state dict; `scaling_layer.*` entries are accepted
 * and ignored as the constants are built in).
 */
export function loadLpips(path: string): LPIPS {
  const lpips = new LPIPS();
  const sd = readCheckpoint(path, (k) => !k.startsWith('scaling_layer.'));
  lpips.loadStateDict(sd, { source: path });
  return lpips;
}
