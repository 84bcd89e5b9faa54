// SSIM per frame, as the reference's eval/vae reports it: the metric itself (11x11 Gaussian
// window, sigma 1.5, equal to scikit-image's structural_similarity) is the vae package's.
import { ssim } from '@opensora-ts/vae';
import { checkSameGeometry, frameUnit, type Video } from './frames.js';

/** SSIM per frame of two videos of the same geometry. */
export function ssimPerFrame(a: Video, b: Video): number[] {
  checkSameGeometry(a, b, 'ssimPerFrame');
  const out: number[] = [];
  for (let t = 0; t < a.numFrames; t++) out.push(ssim(frameUnit(a, t), frameUnit(b, t), a.height, a.width, a.channels ?? 3));
  return out;
}
