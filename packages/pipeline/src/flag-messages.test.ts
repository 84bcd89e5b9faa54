// Issue 31, unclear messages: --out under a file or ending in '/', a folder as --out, a text file
// or a video as --image, and a missing reference: each is refused before any model is loaded, in
// the flag and the value the user typed.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../test/run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'sample-flags-'));
beforeAll(() => {
  writeFileSync(join(dir, 'file.mp4'), 'not a folder');
  writeFileSync(join(dir, 'notes.txt'), 'a red circle\n');
  writeFileSync(join(dir, 'clip.mp4'), 'pretend video');
  writeFileSync(join(dir, 'still.png'), 'pretend image');
  mkdirSync(join(dir, 'folder'));
  writeFileSync(join(dir, 'prompts.txt'), 'a red circle {"reference_path": "gone.png"}\n');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));


describe('flags refused before any model is loaded, in the user\'s words', () => {
  const p = (name: string) => join(dir, name);
  it.each([
    [['--out', `${p('file.mp4')}/x.mp4`], `opensora-sample: --out ${p('file.mp4')}/x.mp4: ${p('file.mp4')} is a file, not a folder, so nothing can be written under it; choose another --out.`],
    [['--out', `${p('new')}/`], `opensora-sample: --out ${p('new')}/: ends in '/', but --out names the file to write, e.g. --out ${p('new')}/sample.mp4. To write sample_0000.mp4, ... into a folder, pass --save-dir ${p('new')} instead.`],
    [['--out', p('folder')], `opensora-sample: --out ${p('folder')}: is a folder, but --out names the file to write`],
    [['--save-dir', p('file.mp4')], `opensora-sample: --save-dir ${p('file.mp4')}: is a file, not a folder; to write that file, pass --out ${p('file.mp4')}`],
    [['--image', p('notes.txt')], `opensora-sample: --image ${p('notes.txt')}: a .txt file is neither an image nor a video; give a .png or .jpg image (prompts from a file go to --prompt-path).`],
    [['--image', p('clip.mp4')], `opensora-sample: --image ${p('clip.mp4')}: is a video; pass it as --video ${p('clip.mp4')} (its first frames condition the clip, v2v_head), or give a still image (.png, .jpg) to --image.`],
    [['--video', p('still.png')], `opensora-sample: --video ${p('still.png')}: is an image; pass it as --image ${p('still.png')} (i2v_head).`],
    [['--image', p('missing.png')], `opensora-sample: --image ${p('missing.png')}: no such file (relative paths are from the current folder, ${process.cwd()}).`],
  ])('%j', async (argv, message) => {
    const r = await runCli(['--prompt', 'a red circle', ...argv]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(message);
    expect(r.stderr).not.toMatch(/CSV folder|EEXIST|\n\s+at /);
    // Refused before the models: no sampling line was printed.
    expect(r.stderr).not.toMatch(/^sample 0:/m);
  });

  it('a prompt file\'s missing reference names the prompt', async () => {
    const r = await runCli(['--prompt-path', p('prompts.txt'), '--out', p('x.mp4')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`opensora-sample: prompt 0's "reference_path" gone.png: no such file (relative paths are from the current folder, ${process.cwd()}).`);
  });
});
