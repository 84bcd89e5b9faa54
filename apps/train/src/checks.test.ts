// Issue 31: training refuses what sampling refuses (sizes and frame counts the VAE cannot take,
// through the vae package's one check), counters below 1, and a CSV without captions; skipped rows
// are listed in the run folder's skipped.csv.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCsv, writeShapesWorld } from '@opensora-ts/data';
import { ChunkedVideoCodec, createVae } from '@opensora-ts/vae';
import { parseTrainConfig } from './config.js';
import { openDataSource } from './data-source.js';
import { NonFiniteLossError } from './run-context.js';
import { checkTrainSizes } from './sizes.js';

const root = mkdtempSync(join(tmpdir(), 'train-checks-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const base = { lr: 1e-4, model: { type: 'STDiT3-tiny' }, vae: { type: 'tiny' }, text_encoder: { type: 'demo' } };
const dit = (extra: Record<string, unknown>) => parseTrainConfig({ ...base, ...extra });
const fixed = (numFrames: number, size: [number, number], extra: Record<string, unknown> = {}) => dit({ dataset: { type: 'VideoTextDataset', num_frames: numFrames, image_size: size }, ...extra });

describe('training config checks', () => {
  it('ckpt_every must be >= 1', () => {
    expect(() => fixed(17, [32, 32], { ckpt_every: 0 })).toThrow(/ckpt_every: ckpt_every must be >= 1 \(steps between checkpoints\); to save only at the end, set it above max_steps \(found 0\)/);
    expect(fixed(17, [32, 32], { ckpt_every: 1 }).ckpt_every).toBe(1);
  });

  it('sizes and frame counts the VAE cannot take are refused as sampling refuses them (10 frames, 60x60)', () => {
    const vae = createVae('tiny');
    const codec = new ChunkedVideoCodec(vae);
    const log: string[] = [];
    try {
      expect(() => checkTrainSizes(fixed(17, [60, 60]), codec, (l) => log.push(l))).toThrow(
        "dataset.image_size 60x60: height and width must be positive multiples of 8 (the VAE's spatial stride); the nearest valid size is 64x64.",
      );
      expect(() => checkTrainSizes(fixed(10, [64, 64]), codec, (l) => log.push(l))).toThrow('dataset.num_frames 10: gives no latent frames with this VAE (it encodes chunks of 17 frames); use 1 (an image) or 17 frames.');
      const buckets = dit({ dataset: {}, bucket_config: { '144p': { '1': [1, 4], '10': [1, 2], '33': [1, 1] } } });
      expect(() => checkTrainSizes(buckets, codec, (l) => log.push(l))).toThrow(/bucket_config\["144p"\]\["10"\]: num_frames 10: gives no latent frames/);
      checkTrainSizes(fixed(18, [64, 64]), codec, (l) => log.push(l));
      expect(log).toEqual(['warning: dataset.num_frames 18: the VAE encodes whole chunks, so only 17 of the 18 frames reach the latent; use 17 or 33.']);
      // VAE training runs whole clips: 9 frames are fine there, the grid still applies.
      const vaeTask = (size: [number, number]) => parseTrainConfig({ task: 'vae', lr: 1e-4, model: { type: 'tiny' }, dataset: { type: 'VideoTextDataset', num_frames: 9, image_size: size } });
      expect(() => checkTrainSizes(vaeTask([64, 64]), codec, () => {})).not.toThrow();
      expect(() => checkTrainSizes(vaeTask([60, 64]), codec, () => {})).toThrow(/dataset\.image_size 60x64/);
    } finally {
      vae.dispose();
    }
  });
});

describe('the metadata CSV', () => {
  let csv = '';
  beforeAll(async () => {
    csv = (await writeShapesWorld(join(root, 'data'), { numClips: 4, height: 32, width: 32, numFrames: 17, fps: 8, seed: 1 })).csvPath;
  });

  /** The set's CSV with columns dropped and extra rows appended. */
  function variant(name: string, drop: string[], extraRows: Record<string, string>[] = []): string {
    const t = parseCsv(readFileSync(csv, 'utf8'));
    const keep = t.columns.filter((c) => !drop.includes(c));
    const rows = t.records.map((r) => keep.map((c) => r.values[t.columns.indexOf(c)]!));
    for (const e of extraRows) rows.push(keep.map((c) => e[c] ?? ''));
    const out = join(root, 'data', name);
    writeFileSync(out, [keep.join(','), ...rows.map((r) => r.map((v) => (/[",]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v)).join(','))].join('\n') + '\n');
    return out;
  }

  it("a CSV without a 'text' column is refused for a DiT, unless allow_empty_captions", async () => {
    const noText = variant('no-text.csv', ['text']);
    const cfg = fixed(17, [32, 32]);
    await expect(openDataSource(cfg, noText, { log: () => {} })).rejects.toThrow(/no-text\.csv: no 'text' column \(found path, .*\), so every sample would train on an empty caption\. .*or pass --allow-empty-captions/);
    const log: string[] = [];
    const ds = await openDataSource(fixed(17, [32, 32], { allow_empty_captions: true }), noText, { log: (l) => log.push(l) });
    expect(ds.rows.every((r) => r.text === '')).toBe(true);
    expect(log.join('\n')).toMatch(/warning: .*no-text\.csv has no 'text' column; training on empty captions/);
  });

  it('skipped rows are written to skipped.csv with path and reason, and the log says where', async () => {
    const withBad = variant('bad-rows.csv', [], [
      { path: 'clips/missing.mp4', text: 'a red circle', num_frames: '17', height: '32', width: '32' },
      { path: 'clips/x.mp4', text: 'a blue square', num_frames: 'many', height: '32', width: '32' },
    ]);
    const skippedCsv = join(root, 'run', 'skipped.csv');
    rmSync(join(root, 'run'), { recursive: true, force: true });
    mkdirSync(join(root, 'run'));
    const log: string[] = [];
    await openDataSource(fixed(17, [32, 32]), withBad, { log: (l) => log.push(l), skippedCsv });
    expect(log.join('\n')).toContain(`skipped 2: 1 missing file, 1 bad number. Each skipped row, with its reason, is in ${skippedCsv}.`);
    expect(existsSync(skippedCsv)).toBe(true);
    const t = parseCsv(readFileSync(skippedCsv, 'utf8'));
    expect(t.columns).toEqual(['row', 'path', 'reason', 'detail', 'when']);
    expect(t.records.map((r) => r.values.slice(0, 3))).toEqual([
      ['5', 'clips/missing.mp4', 'missing file'],
      ['6', 'clips/x.mp4', 'bad number'],
    ]);
  });
});

describe('the non-finite loss stop', () => {
  it('gives advice a command line can follow: the flags and values to resume with', () => {
    const e = new NonFiniteLossError(7, Number.NaN, ['3-17-64-64 (clips/a.mp4)'], 'out/checkpoints/step-0000005', { lr: 1e-3, gradClip: null });
    expect(e.message).toBe(
      'loss is NaN at step 7; batch samples: 3-17-64-64 (clips/a.mp4). Last good checkpoint: out/checkpoints/step-0000005. ' +
        'To go on, resume from it with a smaller step: --resume out/checkpoints/step-0000005 --set lr=0.0005 (half of 0.001) --set grad_clip=1.0 (clipping is off). ' +
        'If it stops on the same samples again, check those files and remove their rows from the metadata CSV.',
    );
    const first = new NonFiniteLossError(1, Infinity, ['0-17-64-64 (clips/b.mp4)'], null, { lr: 2e-4, gradClip: 1 });
    expect(first.message).toContain('No checkpoint was written yet: start again with --set lr=0.0001 (half of 0.0002).');
  });
});
