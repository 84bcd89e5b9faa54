// Plots as PNG: a Vega-Lite spec is compiled to Vega, rendered headless to SVG, and rasterised by
// resvg with DejaVu Sans (Debian's fonts-dejavu-core; any installed font is the fallback).
import { existsSync } from 'node:fs';
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

export const PLOT_FONT = 'DejaVu Sans';
const DEJAVU = ['/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf', '/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf'];

export interface LineSeries {
  /** Legend label (a run, a bucket). */
  series: string;
  x: number;
  y: number;
}

export interface PlotText {
  title: string;
  xTitle: string;
  yTitle: string;
}

const baseConfig = {
  font: PLOT_FONT,
  background: 'white',
  axis: { labelFont: PLOT_FONT, titleFont: PLOT_FONT, labelFontSize: 11, titleFontSize: 12, grid: true },
  legend: { labelFont: PLOT_FONT, titleFont: PLOT_FONT, labelLimit: 320 },
  title: { font: PLOT_FONT, fontSize: 14 },
};

/** A line chart (one line per series, points marked). */
export function lineChartSpec(data: LineSeries[], t: PlotText, o: { xZero?: boolean; yZero?: boolean } = {}): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: 560,
    height: 320,
    title: t.title,
    data: { values: data },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: t.xTitle, scale: { zero: o.xZero ?? false } },
      y: { field: 'y', type: 'quantitative', title: t.yTitle, scale: { zero: o.yZero ?? false } },
      color: { field: 'series', type: 'nominal', title: null },
    },
    config: baseConfig,
  } as TopLevelSpec;
}

export interface BarDatum {
  category: string;
  series: string;
  value: number;
}

/** A grouped bar chart: categories along x, one bar per series inside each group. */
export function groupedBarSpec(data: BarDatum[], t: PlotText): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: { step: 44 },
    height: 320,
    title: t.title,
    data: { values: data },
    mark: 'bar',
    encoding: {
      x: { field: 'category', type: 'nominal', title: t.xTitle, axis: { labelAngle: 0 } },
      xOffset: { field: 'series', type: 'nominal' },
      y: { field: 'value', type: 'quantitative', title: t.yTitle },
      color: { field: 'series', type: 'nominal', title: null },
    },
    config: baseConfig,
  } as TopLevelSpec;
}

/** Vega-Lite -> SVG text. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** SVG -> PNG bytes at `scale` (2 = crisp on high-density screens). */
export function svgToPng(svg: string, scale = 2): Uint8Array {
  const fontFiles = DEJAVU.filter((f) => existsSync(f));
  const r = new Resvg(svg, {
    background: 'white',
    fitTo: { mode: 'zoom', value: scale },
    font: { fontFiles, loadSystemFonts: fontFiles.length === 0, defaultFontFamily: PLOT_FONT, sansSerifFamily: PLOT_FONT },
  });
  return r.render().asPng();
}

/** Vega-Lite -> PNG bytes. */
export async function renderPng(spec: TopLevelSpec, scale = 2): Promise<Uint8Array> {
  return svgToPng(await renderSvg(spec), scale);
}
