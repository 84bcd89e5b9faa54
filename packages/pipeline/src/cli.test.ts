// The command as a user runs it: the bundled demo model by default (vocabulary warning, mp4 that
// ffprobe reads), a wrong --weights folder, and cached text embeddings instead of a T5 folder.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddingCache, T5Encoder } from '@opensora-ts/conditioning';
import { ffprobePath } from '@opensora-ts/data';
import { tf } from '@opensora-ts/kernels';
import { preparePromptText } from './prompts.js';
import { writeTinyOfficialFolder } from '../test/tiny-weights.js';
import { runCli } from '../test/run-cli.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sample-cli-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));


describe('opensora-sample', () => {
  it('uses the demo model by default, warns about words it does not know, and writes an mp4 ffprobe reads', async () => {
    const out = join(dir, 'demo.mp4');
    // 32x32 instead of the demo's own size keeps this under a minute on tfjs's pure-JS cpu backend.
    const r = await runCli(['--prompt', 'a red dog runs in the park', '--steps', '2', '--resolution', '32x32', '--out', out, '--plain-progress']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/does not know "dog", "runs", "park"/);
    expect(r.stderr).toMatch(/knows: .*red.*circle/);
    expect(r.stderr).toMatch(/denoise 2\/2/);
    expect(r.stderr).toMatch(/decode 1\/1/);
    expect(r.stderr).toMatch(/done: 1 file\(s\) in [\d.]+ s, peak RSS \d+ MiB/);
    const probe = JSON.parse(execFileSync(ffprobePath(), ['-v', 'error', '-show_entries', 'stream=codec_name,nb_frames', '-of', 'json', out], { encoding: 'utf8' }));
    expect(probe.streams[0].codec_name).toBe('h264');
    const side = JSON.parse(readFileSync(join(dir, 'demo.json'), 'utf8'));
    expect(side.models.source).toBe('demo');
    expect(Number(probe.streams[0].nb_frames)).toBe(side.video.num_frames);
    expect(side.models.files.map((f: { role: string }) => f.role)).toEqual(['demo-manifest', 'vae', 'stdit']);
    expect(side.runtime).toMatchObject({ rank: 0, world_size: 1 });
    expect(side.memory.offload).toBe('none');
    expect(side.memory.phases.map((p: { phase: string; models: string[] }) => [p.phase, p.models.length])).toEqual([['load', 3], ['text', 3], ['denoise', 3], ['decode', 3]]);
    for (const p of side.memory.phases) expect(p.peak_rss_mib).toBeGreaterThan(0);
  });

  it('--offload model keeps one model at a time, says so in the sidecar, and writes the same video', async () => {
    const args = ['--prompt', 'a red circle moves to the left', '--steps', '2', '--resolution', '32x32', '--plain-progress'];
    const a = await runCli([...args, '--out', join(dir, 'all.mp4')]);
    const b = await runCli([...args, '--offload', 'model', '--out', join(dir, 'lean.mp4')]);
    expect([a.code, b.code], b.stderr).toEqual([0, 0]);
    expect(readFileSync(join(dir, 'lean.mp4')).equals(readFileSync(join(dir, 'all.mp4')))).toBe(true);
    const side = JSON.parse(readFileSync(join(dir, 'lean.json'), 'utf8'));
    expect(side.settings.offload).toBe('model');
    expect(side.memory.phases.map((p: { phase: string; models: string[] }) => [p.phase, p.models])).toEqual([['load', []], ['text', ['text']], ['denoise', ['dit']], ['decode', ['vae']]]);
    expect((await runCli([...args, '--offload', 'layer', '--out', join(dir, 'x.mp4')])).stderr).toMatch(/--offload <mode>' argument 'layer' is invalid\. Allowed choices are none, model/);
  });

  it('names the missing file of a wrong --weights folder and exits non-zero', async () => {
    const w = join(dir, 'wrong');
    writeTinyOfficialFolder(w, { vae: true, stdit: false, t5: true });
    const r = await runCli(['--prompt', 'x', '--weights', w, '--out', join(dir, 'x.mp4')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/opensora-sample: --weights .*wrong: missing .*stdit\/model\.safetensors \(the STDiT3 checkpoint\)/);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace for a user's mistake
  });

  it('runs from cached text embeddings when the folder has no T5', async () => {
    const w = join(dir, 'cached');
    writeTinyOfficialFolder(w);
    const prompt = 'a blue square moves up';
    const { final } = await preparePromptText(prompt, 1, { aes: null, flow: null, cameraMotion: null });
    const t5 = T5Encoder.fromFolder(join(w, 't5'), { maxLength: 16 });
    const enc = await new EmbeddingCache(join(w, 'text-embeddings'), t5).encode([final]);
    tf.dispose([enc.states, enc.mask]);
    t5.dispose();
    renameSync(join(w, 't5'), join(dir, 't5-moved'));
    const ok = await runCli(['--prompt', prompt, '--weights', w, '--resolution', '16x16', '--num-frames', '17', '--steps', '2', '--out', join(dir, 'cached.mp4')]);
    expect(ok.code, ok.stderr).toBe(0);
    const miss = await runCli(['--prompt', 'a green circle', '--weights', w, '--resolution', '16x16', '--steps', '2', '--out', join(dir, 'miss.mp4')]);
    expect(miss.code).toBe(1);
    expect(miss.stderr).toMatch(/no cached embedding for prompt "a green circle"/);
  });

  it('refuses to replace an existing output (and its sidecar) before any work unless --overwrite; removes temporary files of killed runs', async () => {
    const d = mkdtempSync(join(dir, 'exists-'));
    const out = join(d, 'exists.mp4');
    writeFileSync(out, 'my video');
    writeFileSync(join(d, 'exists.json'), '{"mine": true}');
    const args = ['--prompt', 'a red circle moves to the left', '--steps', '1', '--resolution', '32x32', '--out', out, '--plain-progress'];
    const refused = await runCli(args);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(new RegExp(`opensora-sample: ${out.replace(/[.]/g, '\\.')} exists; pass --overwrite to replace it \\(and its \\.json sidecar\\), or choose another --out\\.$`));
    expect(refused.stderr).not.toMatch(/denoise/); // nothing was generated
    expect(readFileSync(out, 'utf8')).toBe('my video');
    // Only the sidecar exists: refused too (the pair is one output).
    rmSync(out);
    expect((await runCli(args)).stderr).toMatch(/exists\.json exists; pass --overwrite/);
    writeFileSync(out, 'my video');
    // A temporary file of a killed run beside the output.
    const dead = execFileSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    writeFileSync(join(d, `.exists.mp4.${dead}.1.tmp.mp4`), 'half');
    const replaced = await runCli([...args, '--overwrite']);
    expect(replaced.code, replaced.stderr).toBe(0);
    expect(replaced.stderr).toContain(`removed 1 temporary file(s) left by stopped process ${dead}: ${join(d, `.exists.mp4.${dead}.1.tmp.mp4`)}`);
    expect(readFileSync(out).subarray(4, 8).toString()).toBe('ftyp');
    expect(JSON.parse(readFileSync(join(d, 'exists.json'), 'utf8')).kind).toBe('opensora-sample');
    expect(readdirSync(d).sort()).toEqual(['exists.json', 'exists.mp4']);
  });
});
