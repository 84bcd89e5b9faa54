// Renders one Vega-Lite spec to PNG (vega -> SVG -> resvg) in a worker thread that then exits. resvg's
// Rust-side buffers are invisible to V8, so in a long-lived thread they are collected late or never
// (a trainer grew ~5 MiB per checkpoint plot); a thread's exit frees all it allocated.
import { parentPort, workerData } from 'node:worker_threads';
import { Resvg } from '@resvg/resvg-js';
import { parse, View } from 'vega';
import { compile } from 'vega-lite';

const { spec, font, zoom } = workerData;
const view = new View(parse(compile(spec).spec), { renderer: 'none' });
let svg;
try {
  svg = await view.toSVG();
} finally {
  view.finalize();
}
const png = new Resvg(svg, { font: { loadSystemFonts: true, defaultFontFamily: font }, fitTo: { mode: 'zoom', value: zoom } }).render().asPng();
const bytes = new Uint8Array(png.length);
bytes.set(png);
parentPort.postMessage(bytes, [bytes.buffer]);
