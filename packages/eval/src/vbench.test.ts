import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { inProcessGroups } from '@opensora-ts/kernels';
import { readPromptSuite, vbenchFileName, writeVBenchSamples } from './vbench.js';

const dir = mkdtempSync(join(tmpdir(), 'vbench-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('VBench hand-off', () => {
  it('names files {prompt}-{index}.mp4, 5 per prompt, and resumes', async () => {
    const suite = join(dir, 'suite.txt');
    writeFileSync(suite, 'a red circle moves to the left\n\nthe camera pans right over blue squares\n');
    const prompts = readPromptSuite(suite);
    expect(prompts).toEqual(['a red circle moves to the left', 'the camera pans right over blue squares']);
    const seeds: number[] = [];
    const sampler = async (_p: string, seed: number) => {
      seeds.push(seed);
      return { data: new Uint8Array(2 * 4 * 4 * 3), numFrames: 2, height: 4, width: 4 };
    };
    const write = async (path: string) => writeFileSync(path, 'x');
    const out = join(dir, 'samples');
    const files = await writeVBenchSamples(prompts, sampler, out, { write, seed: 100 });
    expect(files.length).toBe(10);
    expect(readdirSync(out).sort()).toEqual([0, 1, 2, 3, 4].flatMap((i) => prompts.map((p) => `${p}-${i}.mp4`)).sort());
    expect(seeds).toEqual([100, 101, 102, 103, 104, 100, 101, 102, 103, 104]);
    seeds.length = 0;
    rmSync(join(out, `${prompts[1]}-3.mp4`));
    await writeVBenchSamples(prompts, sampler, out, { write, seed: 100 });
    expect(seeds).toEqual([103]);
  });
  it('splits the files over the ranks of a group: each written once, by its owner; all ranks get the list', async () => {
    const prompts = ['one', 'two', 'three'];
    const written: [number, string][] = [];
    const out = join(dir, 'sharded');
    const lists = await Promise.all(
      inProcessGroups(2).map((group) =>
        writeVBenchSamples(prompts, async () => ({ data: new Uint8Array(12), numFrames: 1, height: 2, width: 2 }), out, {
          samplesPerPrompt: 3,
          group,
          write: async (path) => {
            written.push([group.rank, path]);
            writeFileSync(path, 'x');
          },
        }),
      ),
    );
    const all = prompts.flatMap((p) => [0, 1, 2].map((i) => join(out, `${p}-${i}.mp4`)));
    expect(lists).toEqual([all, all]);
    expect(written.map(([, f]) => f).sort()).toEqual([...all].sort());
    for (const [rank, f] of written) expect(all.indexOf(f) % 2).toBe(rank);
  });
  it('refuses prompts that cannot be file names', () => {
    expect(vbenchFileName('a b', 2)).toBe('a b-2.mp4');
    expect(() => vbenchFileName('a/b', 0)).toThrow(/'\/'/);
    expect(() => readPromptSuite(join(dir, 'missing.txt'))).toThrow(/not found/);
  });
});
