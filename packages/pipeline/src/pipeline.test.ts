// The whole pipeline at tiny sizes: official-format random weights, wrong folders, I2V from a PNG,
// loops, and the sidecar. Real decoding/encoding through ffmpeg.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ffprobePath, writePng, writeVideo } from '@opensora-ts/data';
import { extendedLatentLength } from '@opensora-ts/flow';
import { tf } from '@opensora-ts/kernels';
import { generate, type SampleJob } from './generate.js';
import { hashFile } from './hash.js';
import { loadModels, type Models } from './models.js';
import { parsePromptLine } from './prompts.js';
import { readReference } from './references.js';
import { runSample } from './run.js';
import { parseSettings } from './settings.js';
import { writeTinyOfficialFolder } from '../test/tiny-weights.js';

const quiet = { log: () => {}, warn: () => {}, progress: { update: () => {}, stop: () => {} } };

function psnr(a: Uint8Array, b: Uint8Array): number {
  let se = 0;
  for (let i = 0; i < a.length; i++) se += ((a[i]! - b[i]!) / 255) ** 2;
  const mse = se / a.length;
  return mse < 1e-10 ? 100 : 10 * Math.log10(1 / mse);
}

function probeFrames(path: string): { frames: number; width: number; height: number } {
  const out = execFileSync(ffprobePath(), ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=nb_read_frames,width,height', '-of', 'json', path], { encoding: 'utf8' });
  const s = (JSON.parse(out) as { streams: { nb_read_frames: string; width: number; height: number }[] }).streams[0]!;
  return { frames: Number(s.nb_read_frames), width: s.width, height: s.height };
}

const job = (over: Partial<SampleJob>): SampleJob => ({
  item: parsePromptLine('a red circle moves to the left'),
  perLoop: ['a red circle moves to the left'],
  negativePrompt: null,
  height: 16,
  width: 16,
  numFrames: 17,
  fps: 24,
  steps: 3,
  cfgScale: 7.5,
  imageCfgScale: 5,
  seed: 1024,
  loops: 1,
  condType: null,
  conditionFrameLength: 5,
  conditionFrameEdit: 0,
  useOscillationGuidance: true,
  useFlawFix: true,
  useTimestepTransform: true,
  scaleImageWeight: true,
  useSdedit: true,
  ...over,
});

let dir: string;
let weights: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sample-app-'));
  weights = join(dir, 'weights');
  writeTinyOfficialFolder(weights);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('a --weights folder in the official layout', () => {
  it('runs the full pipeline and writes a playable mp4 with a sidecar that hashes every model file', async () => {
    const out = join(dir, 'official.mp4');
    const settings = parseSettings({ prompt: ['a red circle moves to the left'], weights, resolution: '16x16', num_frames: 17, num_sampling_steps: 2, out });
    const r = await runSample(settings, quiet);
    expect(r.outputs).toHaveLength(1);
    expect(probeFrames(out)).toEqual({ frames: 17, width: 16, height: 16 });
    const side = JSON.parse(readFileSync(join(dir, 'official.json'), 'utf8'));
    expect(side.kind).toBe('opensora-sample');
    expect(side.settings).toMatchObject({ resolution: '16x16', num_frames: 17, num_sampling_steps: 2, seed: 1024 });
    const roles = side.models.files.map((f: { role: string }) => f.role);
    expect(roles).toEqual(expect.arrayContaining(['vae', 'vae-config', 'stdit', 'stdit-config', 't5']));
    const vae = side.models.files.find((f: { role: string }) => f.role === 'vae');
    expect(vae.sha256).toBe((await hashFile(join(weights, 'vae', 'model.safetensors'))).sha256);
    expect(side.output.sha256).toBe((await hashFile(out)).sha256);
    // The sidecar's settings reproduce the file bit for bit.
    const again = join(dir, 'again.mp4');
    await runSample(parseSettings({ ...side.settings, out: again }), quiet);
    expect((await hashFile(again)).sha256).toBe(side.output.sha256);
  });

  it('names the missing file of a wrong folder', () => {
    const cases: [Parameters<typeof writeTinyOfficialFolder>[1], RegExp][] = [
      [{ vae: false }, /missing .*vae\/model\.safetensors \(the VAE checkpoint\)/],
      [{ stdit: false }, /missing .*stdit\/model\.safetensors \(the STDiT3 checkpoint\)/],
      [{ t5: false }, /missing .*\/t5 \(a T5 folder\) or .*text-embeddings/],
    ];
    for (const [i, [parts, re]] of cases.entries()) {
      const w = join(dir, `partial${i}`);
      writeTinyOfficialFolder(w, parts);
      expect(() => loadModels(w)).toThrow(re);
    }
    const w = join(dir, 'partial0');
    writeTinyOfficialFolder(w, { vae: true, stdit: false, t5: false });
    unlinkSync(join(w, 'vae', 'model.safetensors'));
    expect(() => loadModels(join(dir, 'nope'))).toThrow(/--weights .*nope: no such folder/);
  });
});

describe('--text-encoder', () => {
  it('takes a T5 folder from outside --weights in place of its t5/, with the same embeddings', async () => {
    const bare = join(dir, 'no-t5');
    writeTinyOfficialFolder(bare, { t5: false });
    expect(() => loadModels(bare)).toThrow(/or pass --text-encoder DIR/);
    const inside = loadModels(weights);
    const apart = loadModels({ weights: bare, textEncoder: join(weights, 't5') });
    try {
      const a = await inside.encode(['a red circle']);
      const b = await apart.encode(['a red circle']);
      expect(Array.from(b.states.dataSync())).toEqual(Array.from(a.states.dataSync()));
      expect(apart.files.map((f) => f.role)).toContain('t5');
      tf.dispose([a.states, a.mask, b.states, b.mask]);
    } finally {
      inside.dispose();
      apart.dispose();
    }
  });

  it('refuses a T5 folder whose width the DiT cannot take, naming both widths', () => {
    // The bundled demo DiT takes 64 caption channels; the tiny T5 gives 32.
    expect(() => loadModels({ weights: null, textEncoder: join(weights, 't5') })).toThrow(/gives 32-channel states but the DiT's caption_channels is 64/);
  });
});

describe('generation', () => {
  let models: Models;
  beforeAll(() => {
    models = loadModels(weights);
  });
  afterAll(() => models.dispose());

  it('says when a reference is resized to the run size, and records its own size', async () => {
    const png = join(dir, 'wide.png');
    await writePng(png, new Uint8Array(12 * 20 * 3).fill(90), 12, 20);
    const warned: string[] = [];
    const v = await generate(models, job({ item: { ...parsePromptLine('a red circle'), referencePaths: [png] }, condType: 'i2v_head', steps: 1, cfgScale: 1, imageCfgScale: 1 }), { warn: (l) => warned.push(l) });
    expect(warned).toEqual([expect.stringMatching(/wide\.png: 20x12 \(WxH\) was resized and center-cropped to the run's 16x16/)]);
    expect(v.references).toEqual([{ path: png, height: 12, width: 20, resized: true }]);
  });

  it('i2v_head from a PNG reproduces the image in the first frame (through the VAE)', async () => {
    // A picture with structure: a disc on a gradient.
    const H = 16;
    const img = new Uint8Array(H * H * 3);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < H; x++) {
        const inDisc = (x - 6) ** 2 + (y - 7) ** 2 < 16;
        img.set(inDisc ? [220, 40, 40] : [x * 12, y * 12, 120], (y * H + x) * 3);
      }
    }
    const png = join(dir, 'ref.png');
    await writePng(png, img, H, H);
    let latent: tf.Tensor | undefined;
    // Random DiT: guidance 1 keeps its (meaningless) velocity from being amplified. What is tested is
    // that the reference latent reaches frame 0 (reference read, encode, mask index, SDEdit, decode).
    const v = await generate(models, job({ item: { ...parsePromptLine('a red circle'), referencePaths: [png] }, condType: 'i2v_head', steps: 5, cfgScale: 1, imageCfgScale: 1 }), {
      onLatent: (z) => {
        latent = tf.keep(z.clone());
      },
    });
    // What the VAE makes of the image in this video: the sampled latent with frame 0 replaced by the
    // image's own latent (same posterior draw), decoded. GroupNorm couples the frames of a decode, so
    // the reconstruction is taken in the same context.
    const decodeFirst = (z: tf.Tensor) =>
      tf.tidy(() => {
        const d = models.codec.decode(z as tf.Tensor5D);
        return d.slice([0, 0, 0], [1, 3, 1]).squeeze([0, 2]).transpose([1, 2, 0]).clipByValue(-1, 1).add(1).div(2).mul(255).add(0.5).floor();
      });
    const expected = tf.tidy(() => {
      const x = tf.tensor(Float32Array.from(img, (b) => (b / 255) * 2 - 1), [1, H, H, 3]).transpose([3, 0, 1, 2]).expandDims(0) as tf.Tensor5D;
      const zImg = models.codec.encode(x, { seed: 1024 + 2 });
      const mixed = tf.concat([zImg, latent!.slice([0, 0, 1], [-1, -1, -1])], 2);
      return decodeFirst(mixed);
    });
    const noisyFirst = tf.tidy(() => decodeFirst(tf.concat([tf.randomNormal([1, 16, 1, 2, 2], 0, 1, 'float32', 5), latent!.slice([0, 0, 1], [-1, -1, -1])], 2)));
    const ref = Uint8Array.from(await expected.data());
    const unconditioned = Uint8Array.from(await noisyFirst.data());
    tf.dispose([expected, noisyFirst, latent!]);
    const first = psnr(v.frames.subarray(0, H * H * 3), ref);
    const control = psnr(unconditioned, ref);
    console.log(`i2v_head first frame vs the VAE's rendering of the image: ${first.toFixed(1)} dB (an unconditioned frame 0: ${control.toFixed(1)} dB)`);
    expect(first).toBeGreaterThanOrEqual(25);
    expect(control).toBeLessThan(first - 5);
  });

  it('loops=2 yields clip + continuation, cut to whole VAE chunks', async () => {
    const before = tf.memory().numTensors;
    const v = await generate(models, job({ numFrames: 33, loops: 2, steps: 2, perLoop: ['a red circle', 'a red circle moves to the left'] }));
    expect(tf.memory().numTensors).toBe(before);
    const T = v.latentShape[2]!; // 10 latents per 33-frame clip
    const { cut } = extendedLatentLength(T, 2, 5);
    expect(v.mergedLatentFrames).toBe(cut); // 10 + 5 = 15
    expect(v.numFrames).toBe(models.codec.decodedFrames(cut)); // 17 + 16 + 16 = 49
    expect(v.numFrames).toBe(49);
  });

  it('v2v_head from a video conditions the first latent frames on it', async () => {
    const H = 16;
    const T = 17;
    const frames = new Uint8Array(T * H * H * 3);
    for (let t = 0; t < T; t++) for (let i = 0; i < H * H; i++) frames.set([(t * 15) % 256, (i * 3) % 256, 90], (t * H * H + i) * 3);
    const mp4 = join(dir, 'ref.mp4');
    await writeVideo(mp4, frames, T, H, H, { fps: 8, crf: 0 });
    let latent: tf.Tensor | undefined;
    const encoded: number[] = [];
    const v = await generate(models, job({ item: { ...parsePromptLine('a red circle'), referencePaths: [mp4] }, condType: 'v2v_head', steps: 5, cfgScale: 1, imageCfgScale: 1 }), {
      onLatent: (z) => void (latent = tf.keep(z.clone())),
      onEncodeChunk: (d) => void encoded.push(d),
    });
    expect(v.numFrames).toBe(17);
    expect(encoded).toEqual([1]);
    // The reference's latents (same posterior draw) against the sampled ones: frames 0..4 conditioned.
    // (read back through ffmpeg: yuv420p changes the pixels a little)
    const clip = await readReference(mp4, H, H, T);
    const ref = models.codec.encode(clip.pixels as tf.Tensor5D, { seed: 1024 + 2 });
    const err = tf.tidy(() => tf.mean(tf.abs(tf.sub(latent!, ref)), [0, 1, 3, 4]).arraySync() as number[]);
    const scale = tf.tidy(() => tf.mean(tf.abs(ref)).dataSync()[0]!);
    tf.dispose([latent!, ref, clip.pixels]);
    // v2v_head conditions min(5, reference latents, clip latents) = 5 frames: here all of them.
    console.log(`v2v_head latent error per frame / mean |z|: ${err.map((e) => (e / scale).toFixed(3)).join(' ')}`);
    for (const e of err) expect(e).toBeLessThan(0.05 * scale);
  });

  it('one frame makes a PNG', async () => {
    const out = join(dir, 'image.png');
    await runSample(parseSettings({ prompt: ['a blue square'], weights, resolution: '16x16', num_frames: 1, num_sampling_steps: 2, out }), quiet);
    expect(probeFrames(out)).toMatchObject({ width: 16, height: 16 });
    expect(existsSync(join(dir, 'image.json'))).toBe(true);
  });
});
