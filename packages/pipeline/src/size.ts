// The video size of a run: a resolution name with an aspect ratio (the reference's tables, via the
// data package), or an explicit "HxW". Whether the VAE takes the size is the vae package's checkVideoSize.
import { getImageSize } from '@opensora-ts/data';

const HXW = /^(\d+)\s*[x×]\s*(\d+)$/i;

/**
 * (H, W) for `resolution` ("360p", "720p", "256", ... or "HxW") and `aspectRatio` ("9:16" or "0.56",
 * default "9:16" as t2v.py); `fallback` when no resolution is given (the model's own size).
 */
export function resolveImageSize(resolution: string | null, aspectRatio: string | null, fallback: [number, number]): [number, number] {
  if (resolution === null) {
    if (aspectRatio !== null) throw new Error(`--aspect-ratio ${aspectRatio} needs --resolution (a name such as 360p); or give the size as --resolution HxW.`);
    return fallback;
  }
  const m = HXW.exec(resolution.trim());
  if (m) {
    if (aspectRatio !== null) throw new Error(`--resolution ${resolution} is explicit; drop --aspect-ratio ${aspectRatio} (it applies to names such as 360p).`);
    return [Number(m[1]), Number(m[2])];
  }
  return getImageSize(resolution, aspectRatio ?? '9:16');
}
