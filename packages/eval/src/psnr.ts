// PSNR as the reference's eval/vae computes it: on [0, 1] with peak 1, from the plain MSE over
// every pixel and channel of a frame, and 100 dB for (near-)identical frames (MSE < 1e-10).
import { checkSameGeometry, frameUnit, type Video } from './frames.js';

/** PSNR (dB) of two same-length arrays on [0, 1]. */
export function psnr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`psnr: ${a.length} vs ${b.length} values.`);
  if (a.length === 0) throw new Error('psnr: empty frames.');
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - b[i]!;
    s += d * d;
  }
  const mse = s / a.length;
  if (mse < 1e-10) return 100;
  return 20 * Math.log10(1 / Math.sqrt(mse));
}

/** PSNR per frame of two videos of the same geometry. */
export function psnrPerFrame(a: Video, b: Video): number[] {
  checkSameGeometry(a, b, 'psnrPerFrame');
  const out: number[] = [];
  for (let t = 0; t < a.numFrames; t++) out.push(psnr(frameUnit(a, t), frameUnit(b, t)));
  return out;
}
