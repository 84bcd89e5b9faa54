// The VAE-ceiling sampler: loaded as a --sampler module, it gets the suite and returns the ground
// truth through the bundled demo VAE, on which the adherence checks find the named colours.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { checkShapesAdherence, shapesPromptSuite } from '@opensora-ts/eval';
import { initRuntime } from '@opensora-ts/kernels';
import { loadSampler } from './load-sampler.js';

describe('vae-roundtrip sampler', () => {
  it('reconstructs each suite prompt at the suite size, with the named colour', async () => {
    await initRuntime();
    const suite = shapesPromptSuite(6, { height: 64, width: 64, numFrames: 17, fps: 8 });
    const sampler = await loadSampler(fileURLToPath(new URL('./vae-roundtrip-sampler.ts', import.meta.url)), {}, suite);
    let named = 0;
    for (const { prompt } of suite) {
      const v = await sampler(prompt, 0);
      expect([v.numFrames, v.height, v.width]).toEqual([17, 64, 64]);
      const r = checkShapesAdherence(v, prompt);
      if (r.correct.color) named++;
    }
    // The bundled VAE keeps the palette colour of nearly every clip (the model card's ceiling row).
    expect(named).toBeGreaterThanOrEqual(5);
    await expect(sampler('a prompt outside the suite', 0)).rejects.toThrow(/not in the suite/);
  }, 120_000);
});
