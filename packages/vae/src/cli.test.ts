import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { writeSafetensors } from '@opensora-ts/kernels';

const bin_ = fileURLToPath(new URL('../bin/opensora-vae.mjs', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'opensora-vae-cli-'));

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [bin_, ...args], { encoding: 'utf8', env: { ...process.env, OPENSORA_QUIET: '1' } });
  const errLines = r.stderr.trim().split('\n').filter((l) => !l.includes('no --weights'));
  return { code: r.status, err: errLines };
}

describe('opensora-vae CLI: bad input gives one line and exit code 1', () => {
  it('missing video', () => {
    const r = cli('encode', join(dir, 'missing.mp4'), '-o', join(dir, 'z.safetensors'), '--config', 'tiny');
    expect(r.code).toBe(1);
    expect(r.err).toEqual([`opensora-vae: ${join(dir, 'missing.mp4')}: file not found.`]);
  });

  it('a file that is not a video', () => {
    const f = join(dir, 'notes.mp4');
    writeFileSync(f, 'not a video');
    const r = cli('reconstruct', f, '-o', join(dir, 'out.mp4'), '--config', 'tiny');
    expect(r.code).toBe(1);
    expect(r.err.length).toBe(1);
    expect(r.err[0]).toMatch(/notes\.mp4: not a video/);
  });

  it('a truncated video: the file is named and called truncated, not just "the video has 16 frames"', () => {
    const whole = join(dir, 'whole.mp4');
    // moov first (faststart), so a cut file still has the header that lists 33 frames.
    const made = spawnSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc=size=16x16:rate=8', '-frames:v', '33', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-movflags', '+faststart', whole]);
    expect(made.status).toBe(0);
    const bytes = readFileSync(whole);
    const cut = join(dir, 'cut.mp4');
    writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length * 0.45)));
    const r = cli('encode', cut, '-o', join(dir, 'cut.safetensors'), '--config', 'tiny');
    expect(r.code).toBe(1);
    // ffmpeg either stops with an error or ends early; either way the file is named and called truncated.
    expect(r.err.at(-1)).toContain(`opensora-vae: ${cut}: `);
    expect(r.err.at(-1)).toMatch(/(decoded \d+ of the 33 frames its header lists: the file looks truncated or damaged, copy it again\.|\(ffmpeg decoded \d+ of the 33 its header lists: the file looks truncated or damaged; copy it again\))/);
  });

  it('latents with the wrong channel count or rank', () => {
    const wrongC = join(dir, 'z8.safetensors');
    writeSafetensors(wrongC, { z: { shape: [1, 8, 1, 2, 2], data: new Float32Array(32) } });
    let r = cli('decode', wrongC, '-o', join(dir, 'x.mp4'), '--config', 'tiny');
    expect(r.code).toBe(1);
    expect(r.err).toEqual([`opensora-vae: ${wrongC}: latent has 8 channels (shape [1,8,1,2,2]), the VAE expects 16 (layout [B, C, T, h, w]).`]);
    const wrongRank = join(dir, 'z4.safetensors');
    writeSafetensors(wrongRank, { z: { shape: [16, 1, 2, 2], data: new Float32Array(64) } });
    r = cli('decode', wrongRank, '-o', join(dir, 'x.mp4'), '--config', 'tiny');
    expect(r.code).toBe(1);
    expect(r.err[0]).toMatch(/latent 'z' has shape \[16,1,2,2\], expected \[B, z_channels, T', h, w\]/);
  });

  it('a checkpoint that does not fit names the file and the first bad key', () => {
    const z = join(dir, 'z.safetensors');
    writeSafetensors(z, { z: { shape: [1, 16, 1, 2, 2], data: new Float32Array(64) } });
    const weights = join(dir, 'partial.safetensors');
    writeSafetensors(weights, { 'encoder.conv_in.conv.weight': { shape: [32, 3, 3, 3, 3], data: new Float32Array(32 * 81) } });
    const r = cli('decode', z, '-o', join(dir, 'x.mp4'), '--config', 'tiny', '--weights', weights);
    expect(r.code).toBe(1);
    expect(r.err.length).toBe(1);
    expect(r.err[0]).toMatch(/partial\.safetensors: 187 missing, 0 unexpected, 0 misshaped keys; first: missing key 'encoder.conv_in.conv.bias'/);
  });
});

describe('opensora-vae CLI on the demo model', () => {
  const demo = fileURLToPath(new URL('../../demo-model/weights/', import.meta.url));

  it("takes the demo model.json as --config, and names it when another config is given", () => {
    const z = join(dir, 'demo-z.safetensors');
    writeSafetensors(z, { z: { shape: [1, 16, 1, 2, 2], data: new Float32Array(64) } });
    const ok = cli('decode', z, '-o', join(dir, 'demo.mp4'), '--config', join(demo, 'model.json'), '--weights', join(demo, 'vae.safetensors'));
    expect(ok.code, ok.err.join('\n')).toBe(0);
    const wrong = cli('decode', z, '-o', join(dir, 'demo2.mp4'), '--config', 'tiny', '--weights', join(demo, 'vae.safetensors'));
    expect(wrong.code).toBe(1);
    expect(wrong.err).toHaveLength(1);
    expect(wrong.err[0]).toContain(`these weights are config '${join(demo, 'model.json')}', not VAE preset 'tiny'`);
    expect(wrong.err[0]).toMatch(/--config \S+model\.json\.$/);
  });
});

describe('opensora-vae CLI: outputs are never destroyed or half-written', () => {
  // Latents of a 37x23 video (odd width and height: libx264 needs even sizes).
  const odd = join(dir, 'odd.safetensors');
  writeSafetensors(odd, { z: { shape: [1, 16, 1, 3, 5], data: new Float32Array(240).fill(0.1) } }, { height: '23', width: '37', fps: '8', frames: '1' });

  function size(path: string): string {
    const r = spawnSync('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=width,height', '-of', 'csv=p=0', path], { encoding: 'utf8' });
    return r.stdout.trim();
  }

  it('an odd size is written one row/column larger, and an existing output needs --overwrite', () => {
    const d = mkdtempSync(join(tmpdir(), 'opensora-vae-out-'));
    const out = join(d, 'precious.mp4');
    writeFileSync(out, 'the good video');
    let r = cli('decode', odd, '-o', out, '--config', 'tiny');
    expect(r).toEqual({ code: 1, err: [`opensora-vae: ${out} exists; pass --overwrite to replace it, or choose another -o.`] });
    expect(readFileSync(out, 'utf8')).toBe('the good video');
    r = cli('decode', odd, '-o', out, '--config', 'tiny', '--overwrite');
    expect(r.err.filter((l) => !l.includes('chunk'))).toEqual([
      'opensora-vae: 37x23 (WxH) is odd and H.264 needs even sizes: writing 38x24, with the decoder\'s next row/column of pixels.',
      `opensora-vae: wrote ${out} (1 frames, 38x24)`,
    ]);
    expect(r.code).toBe(0);
    expect(size(out)).toBe('38,24');
    expect(readdirSync(d)).toEqual(['precious.mp4']);
  });

  it('a missing or unwritable output folder is one line naming the file, found before any work', () => {
    const out = join(dir, 'no-such-folder', 'x.mp4');
    const r = cli('decode', odd, '-o', out, '--config', 'tiny');
    expect(r).toEqual({ code: 1, err: [`opensora-vae: ${out}: the folder ${join(dir, 'no-such-folder')} does not exist; create it (mkdir -p ${join(dir, 'no-such-folder')}) or write elsewhere.`] });
  });

  it('ffmpeg failing mid-write: one error with its last line and the command; the old file stays, no temporary file, no EPIPE', () => {
    const d = mkdtempSync(join(tmpdir(), 'opensora-vae-out-'));
    const bin = mkdtempSync(join(tmpdir(), 'fake-ffmpeg-'));
    // Writes half a file to its output, then dies without reading its input (the encoder's pipe breaks).
    writeFileSync(join(bin, 'ffmpeg'), '#!/bin/sh\nfor a; do last="$a"; done\nprintf partial > "$last"\necho "[libx264] something" >&2\necho "Conversion failed!" >&2\nexit 1\n');
    chmodSync(join(bin, 'ffmpeg'), 0o755);
    const out = join(d, 'precious.mp4');
    writeFileSync(out, 'the good video');
    const r = spawnSync(process.execPath, [bin_, 'decode', odd, '-o', out, '--config', 'tiny', '--overwrite'], {
      encoding: 'utf8',
      env: { ...process.env, OPENSORA_QUIET: '1', PATH: `${bin}:${process.env.PATH}` },
    });
    const lines = r.stderr.trim().split('\n').filter((l) => !l.includes('no --weights') && !l.includes('chunk') && !l.includes('is odd'));
    expect(r.status).toBe(1);
    expect(lines.length).toBe(1);
    expect(lines[0]).toMatch(new RegExp(`^opensora-vae: ${out.replace(/\./g, '\\.')}: ffmpeg failed to encode it \\(exit 1\\): Conversion failed!; command: ffmpeg -v error -y .* ${d}/\\.precious\\.mp4\\.\\d+\\.\\d+\\.tmp\\.mp4$`));
    expect(r.stderr).not.toMatch(/EPIPE/);
    expect(readFileSync(out, 'utf8')).toBe('the good video');
    expect(readdirSync(d)).toEqual(['precious.mp4']);
  });

  it('honours FFMPEG and FFPROBE (tools named by the variables, not found on PATH)', () => {
    const d = mkdtempSync(join(tmpdir(), 'opensora-vae-env-'));
    const bin = mkdtempSync(join(tmpdir(), 'env-ffmpeg-'));
    const fake = join(bin, 'my-ffmpeg');
    writeFileSync(fake, '#!/bin/sh\necho "my-ffmpeg ran" >&2\nexit 3\n');
    chmodSync(fake, 0o755);
    const env = { ...process.env, OPENSORA_QUIET: '1', FFMPEG: fake, FFPROBE: join(bin, 'no-such-ffprobe') };
    const dec = spawnSync(process.execPath, [bin_, 'decode', odd, '-o', join(d, 'x.mp4'), '--config', 'tiny'], { encoding: 'utf8', env });
    expect(dec.status).toBe(1);
    expect(dec.stderr).toMatch(/my-ffmpeg ran; command: .*my-ffmpeg -v error/);
    const clip = join(d, 'clip.mp4'); // any file: ffprobe is what reads it
    writeFileSync(clip, 'x');
    const rec = spawnSync(process.execPath, [bin_, 'reconstruct', clip, '-o', join(d, 'y.mp4'), '--config', 'tiny'], { encoding: 'utf8', env });
    expect(rec.status).toBe(1);
    expect(rec.stderr).toContain(`${join(bin, 'no-such-ffprobe')} (from FFPROBE) could not start`);
  });

  it('removes temporary files left by a killed run at start, saying so', () => {
    const d = mkdtempSync(join(tmpdir(), 'opensora-vae-out-'));
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
    writeFileSync(join(d, `.x.mp4.${dead}.1.tmp.mp4`), 'partial');
    const r = cli('decode', odd, '-o', join(d, 'x.mp4'), '--config', 'tiny');
    expect(r.code).toBe(0);
    expect(r.err).toContain(`opensora-vae: removed 1 temporary file(s) left by stopped process ${dead}: ${join(d, `.x.mp4.${dead}.1.tmp.mp4`)}`);
    expect(readdirSync(d)).toEqual(['x.mp4']);
  });
});
