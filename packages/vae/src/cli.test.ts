import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { writeSafetensors } from '@opensora-ts/kernels';

const bin = fileURLToPath(new URL('../bin/opensora-vae.mjs', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'opensora-vae-cli-'));

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, OPENSORA_QUIET: '1' } });
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
