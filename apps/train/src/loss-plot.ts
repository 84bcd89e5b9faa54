// Loss curves as PNG: a vega-lite spec rendered to SVG by vega (no browser), rasterised by resvg
// (in a worker thread, see lossPlotPng).
// Generic over series (step, value, series name) so the eval app can plot its curves the same way.
import { Worker } from 'node:worker_threads';
import { writeFileAtomic } from '@opensora-ts/kernels';
import { parse, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

export interface PlotPoint {
  step: number;
  value: number;
  series: string;
}

export interface LossPlotOptions {
  title?: string;
  xTitle?: string;
  yTitle?: string;
  /** Log-scale y axis (losses spanning decades). */
  logY?: boolean;
  width?: number;
  height?: number;
}

const FONT = 'DejaVu Sans';

export function lossPlotSpec(points: readonly PlotPoint[], o: LossPlotOptions = {}): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: o.title ?? 'training loss',
    width: o.width ?? 640,
    height: o.height ?? 320,
    background: 'white',
    config: { font: FONT, view: { stroke: null } },
    data: { values: points.filter((p) => Number.isFinite(p.value) && (!o.logY || p.value > 0)).map((p) => ({ ...p })) },
    mark: { type: 'line', interpolate: 'linear', strokeWidth: 1.5 },
    encoding: {
      x: { field: 'step', type: 'quantitative', title: o.xTitle ?? 'step' },
      y: { field: 'value', type: 'quantitative', title: o.yTitle ?? 'loss', scale: o.logY ? { type: 'log' } : { zero: false } },
      color: { field: 'series', type: 'nominal', title: null },
    },
  };
}

/** SVG text of the plot. */
export async function lossPlotSvg(points: readonly PlotPoint[], o: LossPlotOptions = {}): Promise<string> {
  const vg = compile(lossPlotSpec(points, o)).spec;
  const view = new View(parse(vg), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/**
 * PNG bytes of the plot, rendered in a short-lived worker thread (./plot-worker.mjs): resvg's native
 * buffers are freed when the thread exits, so a run drawing its plot at every checkpoint keeps a flat RSS
 * (in this thread they grew ~5 MiB per render; scripts/plot-rss.ts measures it).
 */
export async function lossPlotPng(points: readonly PlotPoint[], o: LossPlotOptions = {}): Promise<Buffer> {
  // Plain JavaScript importing only npm packages: no loader hooks (tsx) needed in the thread.
  const worker = new Worker(new URL('./plot-worker.mjs', import.meta.url), { workerData: { spec: lossPlotSpec(points, o), font: FONT, zoom: 2 }, execArgv: [] });
  try {
    const png = await new Promise<Uint8Array>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`the plot renderer stopped (exit ${code}) before it gave a PNG.`)));
    });
    return Buffer.from(png.buffer, png.byteOffset, png.byteLength);
  } finally {
    await worker.terminate();
  }
}

/** Writes the PNG (temporary name, then rename; a failure leaves the previous plot). */
export async function writeLossPlot(path: string, points: readonly PlotPoint[], o: LossPlotOptions = {}): Promise<void> {
  const png = await lossPlotPng(points, o);
  writeFileAtomic(path, png);
}

/** Moving average over a window (smooths a noisy per-step loss for the plot). */
export function movingAverage(values: readonly number[], window: number): number[] {
  const out: number[] = [];
  let sum = 0;
  const q: number[] = [];
  for (const v of values) {
    q.push(v);
    sum += v;
    if (q.length > window) sum -= q.shift()!;
    out.push(sum / q.length);
  }
  return out;
}
