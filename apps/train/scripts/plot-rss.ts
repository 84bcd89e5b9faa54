// RSS over many loss-plot renders, as a long run draws them (one per checkpoint, the log growing by
// `--steps-per-ckpt` points each time). Prints RSS every `--every` renders and the growth from
// render 10 (after warm-up) to the last. Issue 31: RSS must grow < 20 MiB over 200 checkpoints.
//   node --conditions=source --import tsx apps/train/scripts/plot-rss.ts [--renders 200] [--steps-per-ckpt 50]
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { movingAverage, writeLossPlot, type PlotPoint } from '../src/loss-plot.js';

const { values } = parseArgs({
  options: {
    renders: { type: 'string', default: '200' },
    'steps-per-ckpt': { type: 'string', default: '50' },
    every: { type: 'string', default: '20' },
  },
});
const renders = Number(values.renders);
const per = Number(values['steps-per-ckpt']);
const every = Number(values.every);
const out = join(mkdtempSync(join(tmpdir(), 'plot-rss-')), 'loss.png');
const mib = () => process.memoryUsage().rss / 2 ** 20;
const gc = (globalThis as { gc?: () => void }).gc;

const losses: number[] = [];
let base = 0;
const t0 = performance.now();
for (let r = 1; r <= renders; r++) {
  for (let i = 0; i < per; i++) losses.push(1 / Math.sqrt(losses.length + 1) + 0.05 * Math.sin(losses.length));
  const points: PlotPoint[] = losses.map((v, i) => ({ step: i + 1, value: v, series: 'loss' }));
  const window = Math.max(1, Math.round(losses.length / 20));
  movingAverage(losses, window).forEach((v, i) => points.push({ step: i + 1, value: v, series: `loss (mean of ${window})` }));
  await writeLossPlot(out, points, { title: 'rss probe' });
  if (r === 10 || r % every === 0 || r === renders) {
    gc?.();
    const now = mib();
    if (r === 10) base = now;
    console.log(`render ${String(r).padStart(4)}: ${losses.length} steps, RSS ${now.toFixed(1)} MiB${r > 10 ? ` (+${(now - base).toFixed(1)} since render 10)` : ''}`);
  }
}
console.log(`${renders} renders in ${((performance.now() - t0) / 1000).toFixed(1)} s; RSS growth from render 10 to ${renders}: ${(mib() - base).toFixed(1)} MiB`);
