import { describe, expect, it } from 'vitest';
import { runFixture } from '../test/parity-helpers.js';

// The 'video' run (two 17-frame chunks at 32x48) is in parity-decode-video.test.ts so each
// file stays near a minute on the pure-JS cpu backend.
describe('parity: vae-decode (image, image_flat, video_nooverlap)', () => {
  it('matches the reference within the case tolerance', async () => {
    const report = await runFixture('vae-decode', ['image', 'image_flat', 'video_nooverlap']);
    expect(report.comparisons.length).toBe(10);
    expect(report.pass).toBe(true);
  }, 300_000); // pure-JS cpu conv3d is slow: see README 'Limits'
});
