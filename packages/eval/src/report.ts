// A Markdown report of one or more runs side by side, with PNG plots: loss per timestep, loss per
// bucket, PSNR per frame. Tables carry one column per run so two checkpoints compare at a glance.
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '@opensora-ts/kernels';
import { evalLossTables } from './eval-loss.js';
import { groupedBarSpec, lineChartSpec, renderPng, type BarDatum, type LineSeries } from './plots.js';
import type { EvalResults } from './results.js';

export interface ReportOptions {
  title?: string;
  /** Skip the PNGs (tables only). */
  plots?: boolean;
}

export interface WrittenReport {
  markdown: string;
  files: string[];
}

const f4 = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '–' : x.toFixed(4));
const f2 = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '–' : x.toFixed(2));

/** Temporary name, then rename (kernels' writeFileAtomic): a failure leaves the previous file and no partial one. */
function writeAtomic(path: string, data: string | Uint8Array): void {
  writeFileAtomic(path, data);
}

/** Unique labels for runs (two runs with one name get #2). */
function labels(runs: EvalResults[]): string[] {
  const seen = new Map<string, number>();
  return runs.map((r) => {
    const n = (seen.get(r.name) ?? 0) + 1;
    seen.set(r.name, n);
    return n === 1 ? r.name : `${r.name} #${n}`;
  });
}

/** Builds the report and its plots in `outDir` (report.md + PNGs). */
export async function writeReport(runs: EvalResults[], outDir: string, o: ReportOptions = {}): Promise<WrittenReport> {
  if (runs.length === 0) throw new Error('writeReport: no results to report.');
  const dir = resolve(outDir);
  mkdirSync(dir, { recursive: true });
  const names = labels(runs);
  const md: string[] = [`# ${o.title ?? 'Open-Sora evaluation'}`, '', `Runs: ${names.map((n, i) => `**${n}** (${runs[i]!.created})`).join(', ')}`, ''];
  const files: string[] = [];
  const plot = async (file: string, spec: Parameters<typeof renderPng>[0], alt: string) => {
    if (o.plots === false) return;
    const p = join(dir, file);
    writeAtomic(p, await renderPng(spec));
    files.push(p);
    md.push(`![${alt}](${file})`, '');
  };

  const withLoss = runs.map((r, i) => ({ r, name: names[i]! })).filter((x) => x.r.loss && x.r.loss.buckets.length);
  if (withLoss.length) {
    md.push('## Validation loss', '', 'Rectified-flow loss at the fixed timesteps 1000·k/11 (untransformed), mean over samples, then over timesteps (spec §3.8).', '');
    const keys = [...new Set(withLoss.flatMap((x) => x.r.loss!.buckets.map((b) => `${b.resolution}/${b.numFrames}f`)))];
    md.push(`| bucket | ${withLoss.map((x) => x.name).join(' | ')} |`, `|---|${withLoss.map(() => '---:').join('|')}|`);
    for (const k of keys) {
      md.push(`| ${k} | ${withLoss.map((x) => f4(x.r.loss!.buckets.find((b) => `${b.resolution}/${b.numFrames}f` === k)?.loss)).join(' | ')} |`);
    }
    md.push('');
    for (const x of withLoss) md.push(`### ${x.name}`, '', evalLossTables(x.r.loss!), '');
    const lines: LineSeries[] = withLoss.flatMap((x) =>
      x.r.loss!.buckets.flatMap((b) => x.r.loss!.timesteps.map((t, k) => ({ series: `${x.name} ${b.resolution}/${b.numFrames}f`, x: t, y: b.lossPerTimestep[k]! }))),
    );
    await plot('loss-per-timestep.png', lineChartSpec(lines, { title: 'Validation loss per timestep', xTitle: 'timestep t (0 = clean, 1000 = noise)', yTitle: 'loss (mean over samples)' }), 'loss per timestep');
    const bars: BarDatum[] = withLoss.flatMap((x) => x.r.loss!.buckets.map((b) => ({ category: `${b.resolution}/${b.numFrames}f`, series: x.name, value: b.loss })));
    await plot('loss-per-bucket.png', groupedBarSpec(bars, { title: 'Validation loss per bucket', xTitle: 'bucket (resolution/frames)', yTitle: 'loss (mean over timesteps)' }), 'loss per bucket');
  }

  const withVae = runs.map((r, i) => ({ r, name: names[i]! })).filter((x) => x.r.vae);
  if (withVae.length) {
    md.push('## VAE reconstruction', '', 'PSNR on [0, 1] per frame (100 dB when MSE < 1e-10), SSIM with an 11×11 σ=1.5 Gaussian window (eval/vae of the reference).', '');
    md.push(`| metric | ${withVae.map((x) => x.name).join(' | ')} |`, `|---|${withVae.map(() => '---:').join('|')}|`);
    md.push(`| videos × frames | ${withVae.map((x) => `${x.r.vae!.videos} × ${x.r.vae!.frames}`).join(' | ')} |`);
    md.push(`| PSNR (dB) | ${withVae.map((x) => f2(x.r.vae!.psnr.mean)).join(' | ')} |`);
    md.push(`| SSIM | ${withVae.map((x) => f4(x.r.vae!.ssim.mean)).join(' | ')} |`);
    md.push(`| LPIPS | ${withVae.map((x) => (x.r.vae!.lpips ? `${f4(x.r.vae!.lpips.mean)} (${x.r.vae!.lpipsNet})` : 'not computed')).join(' | ')} |`);
    md.push('');
    const skipped = [...new Set(withVae.flatMap((x) => x.r.vae!.skipped.map((s) => `${s.metric}: ${s.reason}`)))];
    if (skipped.length) md.push(...skipped.map((s) => `- skipped ${s}`), '');
    const lines: LineSeries[] = withVae.flatMap((x) => x.r.vae!.psnr.perFrame.map((y, t) => ({ series: x.name, x: t, y })));
    await plot('psnr-per-frame.png', lineChartSpec(lines, { title: 'Reconstruction PSNR per frame', xTitle: 'frame index', yTitle: 'PSNR (dB)' }), 'PSNR per frame');
  }

  const withSamples = runs.map((r, i) => ({ r, name: names[i]! })).filter((x) => x.r.samples);
  if (withSamples.length) {
    md.push('## Samples', '', 'Shapes-world prompt adherence (classical analysis, no pretrained network). Motion smoothness and dynamic degree are ESTIMATES from Lucas-Kanade flow, not VBench numbers; temporal flickering is computed as VBench does.', '');
    md.push(`| metric | ${withSamples.map((x) => x.name).join(' | ')} |`, `|---|${withSamples.map(() => '---:').join('|')}|`);
    const row = (label: string, get: (s: NonNullable<EvalResults['samples']>) => string) => md.push(`| ${label} | ${withSamples.map((x) => get(x.r.samples!)).join(' | ')} |`);
    row('suite / videos', (s) => `${s.suite} / ${s.n}`);
    row('colour accuracy', (s) => f4(s.color_accuracy));
    row('direction accuracy', (s) => `${f4(s.direction_accuracy)} (of ${s.n_direction})`);
    // Scored at several seeds: how far one run of the suite moves with the seed.
    if (withSamples.some((x) => x.r.samples!.per_seed)) row('direction per seed', (s) => s.per_seed?.map((p) => `${p.seed}: ${f4(p.direction_accuracy)}`).join(', ') ?? '–');
    row('camera accuracy', (s) => f4(s.camera_accuracy));
    row('temporal flickering', (s) => f4(s.temporal_flickering));
    row('motion smoothness (estimate)', (s) => f4(s.motion_smoothness_estimate));
    row('dynamic degree (estimate)', (s) => f4(s.dynamic_degree_estimate));
    md.push('');
  }
  if (!withLoss.length && !withVae.length && !withSamples.length) md.push('The results hold no loss, VAE or sample section yet.', '');
  const markdown = md.join('\n');
  const mdPath = join(dir, 'report.md');
  writeAtomic(mdPath, markdown);
  files.unshift(mdPath);
  return { markdown, files };
}
