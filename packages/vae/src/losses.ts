// The reference's VAE training losses (spec §1.11): L1 (+ LPIPS) reconstruction over frames
// with the fixed scalar logvar, KL to N(0, 1), hinge / vanilla discriminator losses and the
// adaptive generator weight. Videos are PyTorch layout [B, C, T, H, W].
import { tf } from '@opensora-ts/kernels';
import { loadLpips, type LPIPS } from './lpips.js';
import type { DiagonalGaussian } from './posterior.js';

export interface VaeLossOptions {
  /** Weight of the LPIPS term (reference 1.0); 0 without LPIPS weights. */
  perceptual_loss_weight?: number;
  kl_loss_weight?: number;
  /** The reference's logvar parameter is never optimised, so it stays at this value. */
  logvar_init?: number;
  /** LPIPS network with loaded weights; required when perceptual_loss_weight > 0. */
  lpips?: LPIPS | null;
  /**
   * Pixel term: 'l1' |x - x̂| (the reference), or 'l2' (x - x̂)² (an opensora-ts option). With L1 a
   * small VAE on mostly-flat frames settles on the per-pixel median (the background) and ignores
   * its latent; L2's gradient is largest on the missed objects.
   */
  rec_loss?: 'l1' | 'l2';
}

export interface VaeLossTerms {
  nllLoss: tf.Scalar;
  weightedNllLoss: tf.Scalar;
  weightedKlLoss: tf.Scalar;
}

export class VAELoss {
  readonly perceptualWeight: number;
  readonly klWeight: number;
  readonly logvar: number;
  readonly lpips: LPIPS | null;
  readonly recLoss: 'l1' | 'l2';

  constructor(options: VaeLossOptions = {}) {
    this.perceptualWeight = options.perceptual_loss_weight ?? 1.0;
    this.klWeight = options.kl_loss_weight ?? 1e-6;
    this.logvar = options.logvar_init ?? 0;
    this.lpips = options.lpips ?? null;
    this.recLoss = options.rec_loss ?? 'l1';
    if (this.perceptualWeight > 0 && !this.lpips) {
      throw new Error(
        `VAELoss: perceptual_loss_weight is ${this.perceptualWeight} but no LPIPS network was given; load one with loadLpips(path) from a local checkpoint (.safetensors or a torch.save .pth), or set perceptual_loss_weight: 0.`,
      );
    }
  }

  /** nll = sum(|x - x̂| (or (x - x̂)²) (+ w * LPIPS)) / exp(logvar) + logvar, summed and divided by B*T; KL summed / B * weight. */
  forward(video: tf.Tensor5D, recon: tf.Tensor5D, posterior: DiagonalGaussian, nllWeights?: tf.Tensor): VaeLossTerms {
    return tf.tidy(() => {
      const [b, c, t, h, w] = video.shape;
      const frames = (v: tf.Tensor5D) => tf.reshape(tf.transpose(v, [0, 2, 3, 4, 1]), [b * t, h, w, c]) as tf.Tensor4D;
      const x = frames(video);
      const y = frames(recon);
      let rec: tf.Tensor = this.recLoss === 'l2' ? tf.squaredDifference(x, y) : tf.abs(tf.sub(x, y));
      if (this.perceptualWeight > 0 && this.lpips) {
        // LPIPS per frame is broadcast over every pixel and channel, as in the reference.
        rec = tf.add(rec, tf.mul(tf.reshape(this.lpips.forward(x, y), [b * t, 1, 1, 1]), this.perceptualWeight));
      }
      const nll = tf.add(tf.div(rec, Math.exp(this.logvar)), this.logvar);
      const n = b * t;
      const nllLoss = tf.div(tf.sum(nll), n) as tf.Scalar;
      const weightedNllLoss = nllWeights ? (tf.div(tf.sum(tf.mul(nll, nllWeights)), n) as tf.Scalar) : nllLoss.clone();
      const weightedKlLoss = this.klWeight > 0 ? (tf.mul(tf.div(tf.sum(posterior.kl()), b), this.klWeight) as tf.Scalar) : tf.scalar(0);
      return { nllLoss, weightedNllLoss, weightedKlLoss };
    });
  }
}

/** The weight is 0 before `threshold` steps (the reference's adopt_weight). */
export function adoptWeight(weight: number, globalStep: number, threshold = 0, value = 0): number {
  return globalStep < threshold ? value : weight;
}

/** 0.5 * (mean(relu(1 - D(x))) + mean(relu(1 + D(x̂)))). */
export function hingeDLoss(logitsReal: tf.Tensor, logitsFake: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.mul(tf.add(tf.mean(tf.relu(tf.sub(1, logitsReal))), tf.mean(tf.relu(tf.add(1, logitsFake)))), 0.5) as tf.Scalar);
}

/** 0.5 * (mean(softplus(-D(x))) + mean(softplus(D(x̂)))). */
export function vanillaDLoss(logitsReal: tf.Tensor, logitsFake: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.mul(tf.add(tf.mean(tf.softplus(tf.neg(logitsReal))), tf.mean(tf.softplus(logitsFake))), 0.5) as tf.Scalar);
}

/**
 * d_weight = clamp(||∇nll|| / (||∇g|| + 1e-4), 0, 1e4) * disc_weight, both gradients taken
 * with respect to the decoder's last layer (decoder.conv_out.weight).
 */
export function adaptiveGeneratorWeight(nllGrad: tf.Tensor, gGrad: tf.Tensor, discWeight = 0.5): number {
  const ratio = tf.tidy(() => tf.div(tf.norm(nllGrad), tf.add(tf.norm(gGrad), 1e-4)).dataSync()[0]!);
  return Math.min(Math.max(ratio, 0), 1e4) * discWeight;
}

export interface GanLossOptions {
  disc_start?: number;
  disc_factor?: number;
  disc_weight?: number;
  disc_loss_type?: 'hinge' | 'vanilla';
}

/** Generator term: d_weight * adopt_weight(disc_factor) * -mean(D(x̂)). */
export function generatorLoss(logitsFake: tf.Tensor, dWeight: number, globalStep: number, options: GanLossOptions = {}): tf.Scalar {
  const factor = adoptWeight(options.disc_factor ?? 1.0, globalStep, options.disc_start ?? 2001);
  return tf.tidy(() => tf.mul(tf.neg(tf.mean(logitsFake)), dWeight * factor) as tf.Scalar);
}

/** Discriminator term: adopt_weight(disc_factor) * hinge (or vanilla) loss. */
export function discriminatorLoss(logitsReal: tf.Tensor, logitsFake: tf.Tensor, globalStep: number, options: GanLossOptions = {}): tf.Scalar {
  const factor = adoptWeight(options.disc_factor ?? 1.0, globalStep, options.disc_start ?? 2001);
  const loss = (options.disc_loss_type ?? 'hinge') === 'hinge' ? hingeDLoss : vanillaDLoss;
  return tf.tidy(() => tf.mul(loss(logitsReal, logitsFake), factor) as tf.Scalar);
}

/**
 * Builds VAELoss the way a training run should: with `lpips_path` the perceptual term uses
 * LPIPS loaded from that local file; without it the perceptual weight becomes 0 and `log`
 * says so (LPIPS weights cannot be downloaded here).
 */
export function createVaeLoss(options: Omit<VaeLossOptions, 'lpips'> & { lpips_path?: string | null; log?: (line: string) => void } = {}): VAELoss {
  const weight = options.perceptual_loss_weight ?? 1.0;
  if (weight > 0 && !options.lpips_path) {
    (options.log ?? ((l: string) => process.stderr.write(l + '\n')))(
      `VAELoss: no LPIPS weights given (lpips_path); training with perceptual_loss_weight 0 instead of ${weight}.`,
    );
    return new VAELoss({ ...options, perceptual_loss_weight: 0 });
  }
  const lpips = weight > 0 && options.lpips_path ? loadLpips(options.lpips_path) : null;
  return new VAELoss({ ...options, lpips });
}
