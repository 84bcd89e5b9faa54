import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LoadedCheckpoint, listCheckpoints, resolveCheckpoint, saveCheckpoint } from './checkpoint.js';
import { JsonlLog } from './jsonl-log.js';
import { lossPlotPng, movingAverage, writeLossPlot } from './loss-plot.js';

describe('checkpoints', () => {
  it('writes whole folders, keeps the newest K, and resolves run folders', () => {
    const root = join(mkdtempSync(join(tmpdir(), 'ckpt-')), 'checkpoints');
    for (const step of [1, 2, 3, 4]) {
      saveCheckpoint(root, step, { tensors: new Map([['model', new Map([['w', { shape: [2], data: new Float32Array([step, -step]) }]])]]), state: { step } }, 2);
    }
    expect(readdirSync(root).sort()).toEqual(['step-0000003', 'step-0000004']); // no temporary folder left
    expect(listCheckpoints(root).map((p) => p.slice(-12))).toEqual(['step-0000003', 'step-0000004']);
    const latest = resolveCheckpoint(join(root, '..'));
    const ck = new LoadedCheckpoint<{ step: number }>(latest);
    expect(ck.state.step).toBe(4);
    expect(Array.from(ck.read('model').get('w')!.data)).toEqual([4, -4]);
    expect(() => ck.read('ema')).toThrow(/missing ema\.safetensors/);
    expect(() => resolveCheckpoint(join(root, 'nope'))).toThrow(/no such folder/);
  });

  it('a checkpoint that fails to write leaves no temporary folder and the earlier checkpoints as they were', () => {
    const root = join(mkdtempSync(join(tmpdir(), 'ckpt-')), 'checkpoints');
    const w = (v: number) => new Map([['model', new Map([['w', { shape: [1], data: Float32Array.of(v) }]])]]);
    saveCheckpoint(root, 1, { tensors: w(1), state: { step: 1 } }, 5);
    // A tensor the writer refuses (as a full disk would fail it) half-way through the folder.
    const bad = new Map([...w(2), ['optimizer', new Map([['m', { shape: [1], data: Float32Array.of(1), dtype: 'F64' as never }]])]]);
    expect(() => saveCheckpoint(root, 2, { tensors: bad, state: { step: 2 } }, 5)).toThrow(/F64/);
    expect(readdirSync(root)).toEqual(['step-0000001']);
    expect(Array.from(new LoadedCheckpoint(join(root, 'step-0000001')).read('model').get('w')!.data)).toEqual([1]);
  });

  it('the JSON-lines log drops records after a resumed step', () => {
    const log = new JsonlLog(join(mkdtempSync(join(tmpdir(), 'log-')), 'log.jsonl'));
    log.write({ type: 'start', step: 0 });
    for (let s = 1; s <= 5; s++) log.write({ type: 'step', step: s, loss: s });
    log.write({ type: 'note' });
    log.truncateAfter(3);
    expect(log.read().map((r) => r.step)).toEqual([0, 1, 2, 3, undefined]);
    expect(readFileSync(log.path, 'utf8').endsWith('\n')).toBe(true);
  });
});

describe('loss plot', () => {
  it('renders a PNG through vega-lite and resvg', async () => {
    const pts = Array.from({ length: 30 }, (_, i) => ({ step: i + 1, value: 1 / (i + 1), series: 'loss' }));
    const png = await lossPlotPng(pts, { title: 'test' });
    expect(png.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
    expect(png.readUInt32BE(16)).toBeGreaterThan(600); // width at 2x zoom
    expect(movingAverage([1, 2, 3, 4], 2)).toEqual([1, 1.5, 2.5, 3.5]);
    expect(existsSync('/nonexistent')).toBe(false);
  });

  it('keeps RSS flat over repeated renders (resvg buffers freed with each render)', async () => {
    // Each render in this thread used to keep ~5 MiB of resvg's native memory (V8 never saw it, so GC
    // did not run for it): 12 renders took ~100 MiB. The bound leaves room for allocator noise.
    const pts = Array.from({ length: 2000 }, (_, i) => ({ step: i + 1, value: 1 / (i + 1), series: 'loss' }));
    const dir = mkdtempSync(join(tmpdir(), 'plot-'));
    for (let i = 0; i < 3; i++) await writeLossPlot(join(dir, 'loss.png'), pts);
    const before = process.memoryUsage().rss;
    for (let i = 0; i < 12; i++) await writeLossPlot(join(dir, 'loss.png'), pts);
    const grown = (process.memoryUsage().rss - before) / 2 ** 20;
    expect(grown).toBeLessThan(40);
    expect(readdirSync(dir)).toEqual(['loss.png']);
  });
});
