// Issue 31, "nothing changed silently" and "non-finite values": each way a run could quietly give
// something other than what was asked now warns (and says so in the sidecar) or stops with a message
// and writes nothing. The demo model at 32x32 with 2 steps keeps each run around a second.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SeededRandom } from '@opensora-ts/kernels';
import { generate } from './generate.js';
import { loadModels } from './models.js';
import { parsePromptLine } from './prompts.js';
import { parseSettings } from './settings.js';
import { writeTinyOfficialFolder } from '../test/tiny-weights.js';
import { runCli } from '../test/run-cli.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sample-silent-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const fast = ['--steps', '2', '--resolution', '32x32', '--plain-progress'];
const sidecar = (name: string) => JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8'));

describe('non-finite values stop the run and write nothing', () => {
  it('--cfg-scale 1e40 stops at step 1 naming the scale (was: an all-black video and exit 0)', async () => {
    const out = join(dir, 'cfg', 'huge.mp4');
    const r = await runCli(['--prompt', 'a red circle', '--cfg-scale', '1e40', '--out', out, ...fast]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/opensora-sample: sampling step 1 of 2 \(t = [\d.]+\): the latent holds \d+ NaN of \d+ values .*The text guidance scale \(cfg_scale\) 1e\+40 is too large/);
    expect(existsSync(join(dir, 'cfg')) ? readdirSync(join(dir, 'cfg')) : []).toEqual([]);
  });

  it('a decoded frame holding NaN stops the decode naming the chunk and the frame', async () => {
    const models = loadModels(null);
    try {
      const decode = models.codec.decodeFrames.bind(models.codec);
      let chunk = 0;
      // The latent is fine; the decoder's output is not (as a broken VAE would give).
      models.codec.decodeFrames = function* (z, o) {
        for (const piece of decode(z, o)) {
          if (chunk++ === 0) {
            const bad = piece.frames.mul(Number.NaN);
            piece.frames.dispose();
            yield { ...piece, frames: bad as typeof piece.frames };
          } else yield piece;
        }
      };
      const job = { item: parsePromptLine('a red circle'), perLoop: ['a red circle'], negativePrompt: null, height: 32, width: 32, numFrames: 17, fps: 8, steps: 1, cfgScale: 4, imageCfgScale: 5, seed: 1, loops: 1, condType: null, conditionFrameLength: 5, conditionFrameEdit: 0, useOscillationGuidance: true, useFlawFix: true, useTimestepTransform: false, scaleImageWeight: true, useSdedit: true };
      await expect(generate(models, job)).rejects.toThrow(/^decoding chunk 1 of 1: frame 0 holds \d+ NaN of \d+ values \(the first at index 0\) though the latent was finite; stopped, nothing is written\./);
    } finally {
      models.dispose();
    }
  });
});

describe('nothing changed silently', () => {
  it('a prompt that cleans to nothing and a frame count the VAE cannot give back each warn and are in the sidecar', async () => {
    const out = join(dir, 'cjk.mp4');
    const r = await runCli(['--prompt', '一个红色的圆', '--num-frames', '18', '--out', out, ...fast]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/warning: prompt 0: "一个红色的圆" is empty after the reference's text cleaning \(it removes CJK characters.*\), so the sample follows no description\. Write the prompt in English\./);
    expect(r.stderr).toMatch(/warning: --num-frames 18: this VAE decodes whole chunks and gives back 17 frames, so the video has 17; pass --num-frames 17 or 33 to get exactly what you ask\./);
    const side = sidecar('cjk');
    expect(side.prompt.empty_after_cleaning).toBe(true);
    expect(side.video).toMatchObject({ num_frames: 17, num_frames_asked: 18 });
    expect(side.warnings).toHaveLength(2);
  });

  it('a prompt longer than the encoder takes says how many tokens are kept of how many', async () => {
    const out = join(dir, 'long.mp4');
    const prompt = Array.from({ length: 10 }, () => 'a red circle moves to the left').join(' ');
    const r = await runCli(['--prompt', prompt, '--out', out, ...fast]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/warning: prompt 0: 71 tokens, but the text encoder keeps 48 \(its max length 48\); the last 23 tokens are dropped\. Shorten the prompt\./);
    expect(sidecar('long').prompt).toMatchObject({ empty_after_cleaning: false, tokens: { count: 71, kept: 48, max_length: 48 }, unknown_words: [] });
  });

  it('words a T5 tokenizer has no tokens for are named', async () => {
    const w = join(dir, 'weights');
    writeTinyOfficialFolder(w);
    const r = await runCli(['--prompt', 'a red über circle', '--weights', w, '--resolution', '16x16', '--num-frames', '17', '--steps', '2', '--out', join(dir, 't5.mp4')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/warning: prompt 0: the text encoder has no tokens for "über"; they become its unknown token and carry no meaning\./);
    expect(sidecar('t5').prompt.unknown_words).toEqual(['über']);
  });

  it('seeds outside 0..2^32-1 are refused with the range (-1 and 4294967297 gave the same video)', async () => {
    for (const seed of ['-1', '4294967297']) {
      const r = await runCli(['--prompt', 'a red circle', '--seed', seed, '--out', join(dir, 'seed.mp4')]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(`--seed must be from 0 to 4294967295 (32 bits; each seed in that range gives its own video), got '${seed}'.`);
    }
    expect(() => parseSettings({ seed: -1 }, 'cfg.json')).toThrow(/cfg\.json: invalid sampling settings\n {2}seed: seed must be an integer from 0 to 4294967295 .*\(found -1\)/);
    expect(() => parseSettings({ seed: 4294967295, num_sample: 2 })).toThrow(/seed 4294967295 with num_sample 2 would use seeds up to 4294967296/);
    // The ends of the range and their neighbours give distinct noise.
    const first = (seed: number) => new SeededRandom(seed).normalArray(4).join(',');
    const draws = [0, 1, 2 ** 32 - 2, 2 ** 32 - 1].map(first);
    expect(new Set(draws).size).toBe(4);
    expect(existsSync(join(dir, 'seed.mp4'))).toBe(false);
  });
});
