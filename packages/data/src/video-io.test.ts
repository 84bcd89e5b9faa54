import { chmodSync, mkdtempSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MediaError } from './ffmpeg.js';
import { resizeBicubicPil, resizeBilinear, pyRound } from './resize.js';
import { resizeCropVideo, temporalCropIndices, toUint8 } from './transforms.js';
import { decodeFrames, loadSample, writePng, writeVideo } from './video-io.js';

const dir = mkdtempSync(join(tmpdir(), 'opensora-data-io-'));

/** A smooth moving pattern (what a codec handles well, like real footage). */
function pattern(T: number, H: number, W: number): Uint8Array {
  const out = new Uint8Array(T * H * W * 3);
  for (let t = 0; t < T; t++)
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) {
        const o = ((t * H + y) * W + x) * 3;
        out[o] = 128 + 100 * Math.sin((x + 2 * t) / 9);
        out[o + 1] = 128 + 100 * Math.cos((y - t) / 7);
        out[o + 2] = 128 + 60 * Math.sin((x + y) / 11);
      }
  return out;
}

function psnr(a: Uint8Array, b: Uint8Array): number {
  let se = 0;
  for (let i = 0; i < a.length; i++) se += (a[i]! - b[i]!) ** 2;
  return 10 * Math.log10((255 * 255) / (se / a.length));
}

async function reason(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'no error';
  } catch (e) {
    expect(e).toBeInstanceOf(MediaError);
    return (e as MediaError).reason;
  }
}

describe('video I/O', () => {
  const T = 12;
  const H = 48;
  const W = 64;
  const frames = pattern(T, H, W);
  const mp4 = join(dir, 'clip.mp4');

  it('round-trips an H.264 mp4 at >= 35 dB PSNR', async () => {
    await writeVideo(mp4, frames, T, H, W, { fps: 12 });
    const back = await decodeFrames(mp4);
    expect([back.numFrames, back.height, back.width, back.fps]).toEqual([T, H, W, 12]);
    expect(psnr(frames, back.data)).toBeGreaterThanOrEqual(35);
  });

  it('decodes only the frames asked for, in order', async () => {
    const all = await decodeFrames(mp4);
    const some = await decodeFrames(mp4, { indices: [1, 5, 11] });
    const fb = H * W * 3;
    expect(some.numFrames).toBe(3);
    expect(Buffer.compare(some.data.subarray(fb, 2 * fb), all.data.subarray(5 * fb, 6 * fb))).toBe(0);
  });

  it('loads a training sample: temporal crop, resize_crop, [-1, 1], CTHW', async () => {
    const s = await loadSample(mp4, { numFrames: 4, height: 32, width: 32, randint: (lo) => lo });
    expect(s.shape).toEqual([3, 4, 32, 32]);
    expect(s.frameIndices).toEqual([0, 1, 2, 3]);
    expect(s.fps).toBe(12);
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of s.data) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    expect(lo).toBeGreaterThanOrEqual(-1);
    expect(hi).toBeLessThanOrEqual(1);
    expect(hi - lo).toBeGreaterThan(1);
  });

  it('loads an image as one frame at fps 120', async () => {
    const png = join(dir, 'img.png');
    await writePng(png, frames.subarray(0, H * W * 3), H, W);
    const s = await loadSample(png, { numFrames: 1, height: 24, width: 32 });
    expect(s.shape).toEqual([3, 1, 24, 32]);
    expect(s.fps).toBe(120);
    // PNG is lossless: the decoded image equals what was written.
    const back = await decodeFrames(png);
    expect(Buffer.compare(back.data, frames.subarray(0, H * W * 3))).toBe(0);
  });

  it('reports a truncated mp4, a text file named .mp4 and a missing path as skips', async () => {
    const cut = join(dir, 'cut.mp4');
    copyFileSync(mp4, cut);
    truncateSync(cut, Math.floor(statSync(cut).size * 0.3));
    const text = join(dir, 'notes.mp4');
    writeFileSync(text, 'this is not a video\n');
    // The CSV says 12 frames; the truncated file holds fewer.
    expect(['unreadable', 'too-short', 'no-frames']).toContain(await reason(loadSample(cut, { numFrames: 12, height: 32, width: 32, totalFrames: 12 })));
    expect(await reason(loadSample(text, { numFrames: 4, height: 32, width: 32 }))).toBe('unreadable');
    expect(await reason(loadSample(join(dir, 'nope.mp4'), { numFrames: 4, height: 32, width: 32 }))).toBe('missing');
    expect(await reason(loadSample(join(dir, 'a.txt'), { numFrames: 4, height: 32, width: 32 }))).toBe('unsupported');
  });
});

describe('writing videos and images', () => {
  const T = 2;
  const H = 16;
  const W = 16;
  const frames = pattern(T, H, W);

  it('an encoder that fails leaves the existing file as it was, no temporary file, and one error with its last line and command', async () => {
    const d = mkdtempSync(join(tmpdir(), 'opensora-data-write-'));
    const out = join(d, 'precious.mp4');
    writeFileSync(out, 'the good video');
    // An ffmpeg that writes half a file to its output and dies (a full disk, a crash).
    const fake = join(d, 'fake-ffmpeg.sh');
    writeFileSync(fake, '#!/bin/sh\nfor a; do last="$a"; done\nprintf partial > "$last"\necho "frame=1 size=1kB" >&2\necho "Conversion failed: disk exploded" >&2\nexit 1\n');
    chmodSync(fake, 0o755);
    process.env.FFMPEG = fake;
    try {
      const err = await writeVideo(out, frames, T, H, W).then(() => null, (e: Error) => e);
      expect(err?.message).toMatch(
        new RegExp(`^${esc(out)}: ffmpeg failed to encode it \\(exit 1\\): Conversion failed: disk exploded; command: ${esc(fake)} -v error -y .* -f mp4 ${esc(d)}/\\.precious\\.mp4\\.\\d+\\.\\d+\\.tmp\\.mp4$`),
      );
      await expect(writePng(join(d, 'new.png'), frames.subarray(0, H * W * 3), H, W)).rejects.toThrow(/new\.png: ffmpeg failed to encode it/);
    } finally {
      delete process.env.FFMPEG;
    }
    expect(readFileSync(out, 'utf8')).toBe('the good video');
    expect(readdirSync(d).sort()).toEqual(['fake-ffmpeg.sh', 'precious.mp4']);
  });

  it('keeps an existing output when asked to, and refuses odd sizes before running ffmpeg', async () => {
    const d = mkdtempSync(join(tmpdir(), 'opensora-data-write-'));
    const out = join(d, 'exists.mp4');
    writeFileSync(out, 'keep me');
    await expect(writeVideo(out, frames, T, H, W, { overwrite: false, existsHint: 'pass --overwrite to replace it.' })).rejects.toThrow(`${out} exists; pass --overwrite to replace it.`);
    expect(readFileSync(out, 'utf8')).toBe('keep me');
    await writeVideo(out, frames, T, H, W);
    expect(statSync(out).size).toBeGreaterThan(100);
    const odd = pattern(1, 23, 37);
    await expect(writeVideo(join(d, 'odd.mp4'), odd, 1, 23, 37)).rejects.toThrow(`${join(d, 'odd.mp4')}: H.264 (yuv420p) needs an even width and height, got 37x23 (WxH); crop or pad the frames to 38x24.`);
    expect(readdirSync(d)).toEqual(['exists.mp4']);
  });
});

function esc(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

describe('transforms', () => {
  it('takes the reference temporal crop (linspace over [begin, begin + n*interval))', () => {
    expect(temporalCropIndices(100, 4, 1, (lo) => lo)).toEqual([0, 1, 2, 3]);
    expect(temporalCropIndices(100, 4, 3, (_lo, hi) => hi)).toEqual([87, 90, 94, 98]);
    expect(temporalCropIndices(10, 1, 1, () => 4)).toEqual([4]);
    expect(() => temporalCropIndices(3, 4, 1, () => 0)).toThrow(/not enough frames/);
  });

  it('rounds like Python', () => {
    expect([0.5, 1.5, 2.5, 2.4, 2.6, 3.5].map(pyRound)).toEqual([0, 2, 2, 2, 3, 4]);
  });

  it('bilinear matches torch align_corners=False', () => {
    // torch: interpolate([[0, 1]], size=4, mode="linear") = [0, 0.25, 0.75, 1].
    const out = resizeBilinear(Float32Array.from([0, 1]), 1, 2, 1, 1, 4);
    expect([...out]).toEqual([0, 0.25, 0.75, 1]);
    const down = resizeBilinear(Float32Array.from([0, 1, 2, 3]), 1, 4, 1, 1, 2);
    expect([...down]).toEqual([0.5, 2.5]);
  });

  it('bicubic matches PIL Image.resize(BICUBIC) byte for byte', () => {
    const f = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'test', 'fixtures', 'pil-bicubic.json'), 'utf8')) as {
      height: number;
      width: number;
      input: number[];
      cases: { height: number; width: number; output: number[] }[];
    };
    for (const c of f.cases) {
      const got = resizeBicubicPil(Uint8Array.from(f.input), f.height, f.width, 3, c.height, c.width);
      expect([...got], `${c.height}x${c.width}`).toEqual(c.output);
    }
  });

  it('resize_crop covers the target and crops the centre', () => {
    // 4x8 frame to 4x4: no scaling (rh = 1 > rw = 0.5), crop columns 2..5.
    const T = 1;
    const fr = new Uint8Array(4 * 8 * 3);
    for (let y = 0; y < 4; y++) for (let x = 0; x < 8; x++) fr.fill(x * 30, (y * 8 + x) * 3, (y * 8 + x + 1) * 3);
    const c = resizeCropVideo(fr, T, 4, 8, 4, 4, 'THWC');
    expect(c.shape).toEqual([1, 4, 4, 3]);
    expect([0, 1, 2, 3].map((x) => Math.round(((c.data[x * 3]! + 1) / 2) * 255))).toEqual([60, 90, 120, 150]);
    expect([...toUint8([-1, 0, 1, 2])]).toEqual([0, 128, 255, 255]);
  });
});
