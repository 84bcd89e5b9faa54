// PSNR per frame, as the reference's eval/vae reports it: the metric itself (on [0, 1], peak 1,
// 100 dB for (near-)identical frames) is the vae package's.
import { psnr } from '@opensora-ts/vae';
import { checkSameGeometry, frameUnit, type Video } from './frames.js';

/** PSNR per frame of two videos of the same geometry. */
export function psnrPerFrame(a: Video, b: Video): number[] {
  checkSameGeometry(a, b, 'psnrPerFrame');
  const out: number[] = [];
  for (let t = 0; t < a.numFrames; t++) out.push(psnr(frameUnit(a, t), frameUnit(b, t)));
  return out;
}
