import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseCsv } from '@opensora-ts/data';
import { parseTrainConfig } from './config.js';
import { ensureDataset } from './data-source.js';

const tmp = mkdtempSync(join(tmpdir(), 'data-source-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const config = (shapesWorld: Record<string, unknown>) =>
  parseTrainConfig({
    dataset: { type: 'VideoTextDataset', num_frames: 5, image_size: [32, 32], shapes_world: { num_clips: 24, height: 32, width: 32, num_frames: 5, ...shapesWorld } },
    lr: 1e-4,
    model: { type: 'STDiT3-tiny' },
    vae: { type: 'tiny' },
    text_encoder: { type: 'demo' },
  });

/** One column of a metadata CSV. */
function columns(csv: string, name: string): string[] {
  const t = parseCsv(readFileSync(csv, 'utf8'));
  const k = t.columns.indexOf(name);
  return t.records.map((r) => r.values[k]!);
}

describe('ensureDataset', () => {
  it('generates the shapes-world set with the configured scene weights and speed range', async () => {
    const csv = await ensureDataset(config({ scenes: { object: 1, camera: 0, still: 0 }, speed_range: [2, 2.5] }), join(tmp, 'objects'), () => {});
    const scenes = columns(csv, 'scene');
    expect(scenes).toHaveLength(24);
    expect(new Set(scenes)).toEqual(new Set(['object']));
    // Speeds are px/frame at the clip's size: [2, 2.5] at a 144-px short side, scaled to 32 px.
    for (const s of columns(csv, 'speed').map(Number)) {
      expect(s).toBeGreaterThanOrEqual((2 * 32) / 144 - 1e-4);
      expect(s).toBeLessThanOrEqual((2.5 * 32) / 144 + 1e-4);
    }
    const mixed = columns(await ensureDataset(config({}), join(tmp, 'default'), () => {}), 'scene');
    expect(new Set(mixed).size).toBeGreaterThan(1);
  });

  it('rejects a reversed speed range, a size range past the frame, an unknown scene kind and all-zero weights, naming the key', () => {
    expect(() => config({ speed_range: [3, 1] })).toThrow(/speed_range/);
    expect(() => config({ size_range: [0.3, 1.5] })).toThrow(/size_range/);
    expect(() => config({ scenes: { objects: 1 } })).toThrow(/scenes/);
    expect(() => config({ scenes: { object: 0, camera: 0, still: 0 } })).toThrow(/scenes: the weights sum to 0/);
  });
});
