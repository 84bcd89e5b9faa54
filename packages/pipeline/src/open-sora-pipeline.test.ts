// OpenSoraPipeline as a library user calls it: load() and generate() on the demo model and on
// official-layout checkpoints given apart, offload 'model' (same video, one model at a time, each
// phase measured), abort signals, and the library's own names in messages.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ffprobePath, writePng } from '@opensora-ts/data';
import { tf } from '@opensora-ts/kernels';
import { OpenSoraPipeline } from './pipeline.js';
import { writeTinyOfficialFolder } from '../test/tiny-weights.js';

let dir: string;
let weights: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pipeline-'));
  weights = join(dir, 'weights');
  writeTinyOfficialFolder(weights);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const fast = { prompt: 'a red circle moves to the left', height: 32, width: 32, numFrames: 17, steps: 2, seed: 5 };

describe('OpenSoraPipeline on the demo model', () => {
  it('generates frames with metadata and writes an mp4 ffprobe reads; offload model gives the same bytes one model at a time', async () => {
    const before = tf.memory().numTensors;
    const pipe = await OpenSoraPipeline.load();
    const steps: string[] = [];
    let video;
    try {
      expect(pipe.info.source).toBe('demo');
      expect(pipe.models.resident().sort()).toEqual(['dit', 'text', 'vae']);
      video = await pipe.generate({ ...fast, onProgress: (p) => steps.push(`${p.phase} ${p.done}/${p.total}`) });
    } finally {
      pipe.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    expect(steps).toEqual(['denoise 1/2', 'denoise 2/2', 'decode 1/1']);
    expect(video.frames.length).toBe(17 * 32 * 32 * 3);
    expect(video.metadata).toMatchObject({ seed: 5, steps: 2, numFrames: 17, height: 32, width: 32, condType: null, prompt: { given: fast.prompt, final: fast.prompt } });
    expect(video.metadata.memory.phases.map((p) => [p.phase, p.models])).toEqual([
      ['text', ['vae', 'text', 'dit']],
      ['denoise', ['vae', 'text', 'dit']],
      ['decode', ['vae', 'text', 'dit']],
    ]);
    for (const p of video.metadata.memory.phases) {
      expect(p.peakRssMiB).toBeGreaterThan(0);
      expect(p.tensorPeakMiB).toBeGreaterThanOrEqual(p.tensorMiB);
    }
    const out = join(dir, 'demo.mp4');
    await video.writeMp4(out);
    const probe = JSON.parse(execFileSync(ffprobePath(), ['-v', 'error', '-count_frames', '-show_entries', 'stream=codec_name,nb_read_frames,width', '-of', 'json', out], { encoding: 'utf8' }));
    expect(probe.streams[0]).toMatchObject({ codec_name: 'h264', nb_read_frames: '17', width: 32 });

    const lean = await OpenSoraPipeline.load({ offload: 'model' });
    let offloaded;
    try {
      expect(lean.models.resident()).toEqual([]);
      offloaded = await lean.generate(fast);
      expect(lean.models.resident()).toEqual(['vae']);
    } finally {
      lean.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    expect(Buffer.compare(Buffer.from(offloaded.frames), Buffer.from(video.frames))).toBe(0);
    expect(offloaded.metadata.memory.offload).toBe('model');
    // The text encoder is gone before the DiT runs, the DiT before the VAE decodes.
    expect(offloaded.metadata.memory.phases.map((p) => [p.phase, p.models])).toEqual([
      ['text', ['text']],
      ['denoise', ['dit']],
      ['decode', ['vae']],
    ]);
  });

  it('stops at an abort signal between steps, freeing its tensors', async () => {
    const pipe = await OpenSoraPipeline.load();
    try {
      const before = tf.memory().numTensors;
      const pre = new AbortController();
      pre.abort(new Error('stopped before it began'));
      await expect(pipe.generate({ ...fast, signal: pre.signal })).rejects.toThrow('stopped before it began');
      const mid = new AbortController();
      const seen: number[] = [];
      const run = pipe.generate({ ...fast, steps: 4, signal: mid.signal, onProgress: (p) => {
        if (p.phase === 'denoise') seen.push(p.done);
        if (p.phase === 'denoise' && p.done === 1) mid.abort(new Error('user stop'));
      } });
      await expect(run).rejects.toThrow('user stop');
      expect(seen).toEqual([1]);
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      pipe.dispose();
    }
  });

  it('names its own options in messages, and warns when the VAE gives back fewer frames', async () => {
    const pipe = await OpenSoraPipeline.load();
    try {
      await expect(pipe.generate({ ...fast, height: 30 })).rejects.toThrow(/^height x width 30x32: height and width must be positive multiples of/);
      const warned: string[] = [];
      const v = await pipe.generate({ ...fast, numFrames: 18, steps: 1, onWarning: (w) => warned.push(w) });
      expect(warned).toEqual(['numFrames 18: this VAE decodes whole chunks and gives back 17 frames, so the video has 17; pass numFrames 17 or 33 to get exactly what you ask.']);
      expect(v.metadata).toMatchObject({ numFrames: 17, numFramesAsked: 18, warnings: warned });
    } finally {
      pipe.dispose();
    }
  });
});

describe('OpenSoraPipeline on official-layout checkpoints', () => {
  it('takes the DiT, VAE and T5 paths apart and gives what the weights folder gives', async () => {
    const o = { prompt: 'a red circle', height: 16, width: 16, numFrames: 17, steps: 2 };
    const folder = await OpenSoraPipeline.load({ weights });
    const apart = await OpenSoraPipeline.load({ dit: join(weights, 'stdit'), vae: join(weights, 'vae', 'model.safetensors'), textEncoder: join(weights, 't5'), offload: 'model' });
    try {
      expect(folder.defaults).toMatchObject({ steps: 30, cfgScale: 7.5, numFrames: 113, height: 720, width: 1280 });
      const [a, b] = [await folder.generate(o), await apart.generate(o)];
      expect(Buffer.compare(Buffer.from(a.frames), Buffer.from(b.frames))).toBe(0);
      expect(apart.info.files.map((f) => f.role)).toEqual(expect.arrayContaining(['vae', 'stdit', 'stdit-config', 't5']));
      // Image conditioning under offload: the VAE encodes the reference, is freed for the text encoder and the DiT, and comes back to decode.
      const png = join(dir, 'first.png');
      await writePng(png, new Uint8Array(16 * 16 * 3).map((_, i) => (i * 7) % 256), 16, 16);
      const [c, d] = [await folder.generate({ ...o, image: png }), await apart.generate({ ...o, image: png })];
      expect(Buffer.compare(Buffer.from(c.frames), Buffer.from(d.frames))).toBe(0);
      expect(d.metadata.condType).toBe('i2v_head');
      expect(d.metadata.memory.phases.map((p) => [p.phase, p.models])).toEqual([['encode', ['vae']], ['text', ['text']], ['denoise', ['dit']], ['decode', ['vae']]]);
    } finally {
      folder.dispose();
      apart.dispose();
    }
  });

  it('says what is missing when the paths are given apart', async () => {
    await expect(OpenSoraPipeline.load({ dit: join(weights, 'stdit') })).rejects.toThrow(/^vae: missing; the DiT and the VAE are given together/);
    await expect(OpenSoraPipeline.load({ dit: join(weights, 'stdit'), vae: join(weights, 'vae') })).rejects.toThrow(/^textEncoder: missing/);
    // @ts-expect-error: a JavaScript caller's typo
    await expect(OpenSoraPipeline.load({ offload: 'layers' })).rejects.toThrow("offload 'layers': expected 'none' or 'model'");
    await expect(OpenSoraPipeline.load({ dit: join(dir, 'nowhere'), vae: join(weights, 'vae'), textEncoder: join(weights, 't5') })).rejects.toThrow(/^dit .*nowhere: no such file or folder/);
  });
});
