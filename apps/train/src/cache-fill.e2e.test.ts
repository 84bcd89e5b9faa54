// `opensora-train cache` end to end on the tiny shapes-world run: the fill encodes every (sample,
// size) pair once, a second fill encodes nothing, two ranks split the work into one shared cache,
// and training then reads that cache (writes no latent) with the losses of a run that filled its
// cache lazily.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeShapesWorld } from '@opensora-ts/data';
import { inProcessGroups } from '@opensora-ts/kernels';
import { fillLatentCache } from './cache-fill.js';
import { parseTrainConfig, type DitTrainConfig } from './config.js';
import { trainDit } from './dit-trainer.js';
import { tinyDitRunConfig } from '../test/tiny-dit-run.js';

const root = mkdtempSync(join(tmpdir(), 'train-cache-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let csv = '';
const quiet = () => {};
const config = (cache: string): DitTrainConfig => parseTrainConfig(tinyDitRunConfig(csv, root, { cache_dir: join(root, cache), max_steps: 2, ckpt_every: 100 })) as DitTrainConfig;
const shards = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.safetensors')).sort();

beforeAll(async () => {
  csv = (await writeShapesWorld(join(root, 'data'), { numClips: 5, height: 32, width: 32, numFrames: 9, seed: 3 })).csvPath;
});

describe('latent cache fill', () => {
  it('encodes each pair once, skips what is cached, and training reads it with the lazily-filled losses', async () => {
    const r = await fillLatentCache({ config: config('one'), outDir: join(root, 'run-one') });
    // 5 clips, batch 2, drop_last: the first epoch batches 4 of them.
    expect(r).toMatchObject({ items: 4, itemsEncoded: 4, itemsAlreadyCached: 0, captions: 4, captionsEncoded: 4, skipped: 0 });
    const again = await fillLatentCache({ config: config('one'), outDir: join(root, 'run-one') });
    expect(again).toMatchObject({ items: 4, itemsEncoded: 0, itemsAlreadyCached: 4, captionsEncoded: 0 });
    const before = shards(r.latentDir);
    const warm = await trainDit({ config: config('one'), outDir: join(root, 'train-warm'), log: quiet, plot: false });
    expect(shards(r.latentDir)).toEqual(before);
    const cold = await trainDit({ config: config('cold'), outDir: join(root, 'train-cold'), log: quiet, plot: false });
    expect(warm.steps.map((s) => s.loss)).toEqual(cold.steps.map((s) => s.loss));
    expect(warm.steps).toHaveLength(2);
  });

  it('two ranks split the pairs and captions into one shared cache that 2-rank training reads', async () => {
    const groups = inProcessGroups(2);
    // The 2 training steps below are 2 epochs of one global batch of 4 (of 5 clips, shuffled each epoch).
    const rs = await Promise.all(groups.map((group) => fillLatentCache({ config: config('two'), outDir: join(root, 'run-two'), group, epochs: 2 })));
    const items = rs[0]!.items;
    expect(items).toBeGreaterThanOrEqual(4);
    for (const r of rs) expect(r).toMatchObject({ items, itemsEncoded: items, itemsAlreadyCached: 0, captionsEncoded: r.captions });
    const dir = rs[0]!.latentDir;
    // Each rank wrote its own shards and index; none of them was written twice.
    expect(readdirSync(dir).filter((f) => f.startsWith('index')).sort()).toEqual(['index-rank-0.json', 'index-rank-1.json']);
    const before = shards(dir);
    expect(before.some((f) => f.startsWith('shard-rank-0-')) && before.some((f) => f.startsWith('shard-rank-1-'))).toBe(true);
    // Data-parallel training on 2 ranks (global batch 2 x 2, as the fill planned) reads the shared cache: no rank encodes a latent.
    const dp = inProcessGroups(2);
    await Promise.all(dp.map((group) => trainDit({ config: config('two'), outDir: join(root, 'train-dp'), log: quiet, plot: false, group })));
    expect(shards(dir)).toEqual(before);
    // One process planning for 2 training ranks caches the same pairs as those 2 ranks did.
    const planned = await fillLatentCache({ config: config('two'), outDir: join(root, 'run-two'), trainRanks: 2, epochs: 2 });
    expect(planned).toMatchObject({ items, itemsEncoded: 0, itemsAlreadyCached: items });
  });
});
