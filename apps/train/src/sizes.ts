// The video sizes a run feeds the VAE, checked before any data is encoded with the vae package's
// checkVideoSize, the same check the sample app makes: VideoTextDataset's image_size and num_frames
// in full, and every bucket's frame count (bucket sizes come from the reference's aspect tables,
// which the VAE pads where they are off its grid, as the reference does). VAE training encodes whole
// clips, so there only the spatial grid is checked.
import { checkVideoSize, type ChunkedVideoCodec } from '@opensora-ts/vae';
import type { TrainConfig } from './config.js';

/** Throws one error listing every size the VAE cannot take; logs a warning for frame counts it shortens. */
export function checkTrainSizes(cfg: TrainConfig, codec: ChunkedVideoCodec, log: (line: string) => void): void {
  const problems: string[] = [];
  const check = (numFrames: number, height: number, width: number, names: { size: string; frames: string }) => {
    try {
      const r = checkVideoSize(codec, { numFrames, height, width }, names);
      if (r.framesOut !== numFrames) {
        log(`warning: ${names.frames} ${numFrames}: the VAE encodes whole chunks, so only ${r.framesOut} of the ${numFrames} frames reach the latent; ${r.nearest?.length ? `use ${r.nearest.join(' or ')}` : 'use a count it takes whole'}.`);
      }
    } catch (err) {
      problems.push((err as Error).message);
    }
  };
  const stride = codec.vae.compression[1];
  if (cfg.bucket_config) {
    for (const [res, frames] of Object.entries(cfg.bucket_config)) {
      for (const t of Object.keys(frames)) check(Number(t), stride, stride, { size: `bucket_config["${res}"]`, frames: `bucket_config["${res}"]["${t}"]: num_frames` });
    }
  } else if (cfg.dataset.num_frames !== undefined && cfg.dataset.image_size) {
    const [h, w] = cfg.dataset.image_size;
    // VAE training runs whole clips through the VAE (no chunks): only the spatial grid applies.
    if (cfg.task === 'vae') check(1, h, w, { size: 'dataset.image_size', frames: 'dataset.num_frames' });
    else check(cfg.dataset.num_frames, h, w, { size: 'dataset.image_size', frames: 'dataset.num_frames' });
  }
  if (problems.length) throw new Error(`training config: sizes the VAE cannot take (the sample app refuses them too):\n  ${problems.join('\n  ')}`);
}
