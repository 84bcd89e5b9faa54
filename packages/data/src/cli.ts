#!/usr/bin/env node
// opensora-data: scan a folder into a metadata CSV, check a CSV, score motion and camera labels,
// and write the synthetic shapes-world dataset. Each run ends with a summary of what was skipped.
import { dirname, resolve } from 'node:path';
import { Command } from 'commander';
import { writeCsv } from './csv.js';
import { MediaError } from './ffmpeg.js';
import { readMetadata, SkipReport, type ColumnFilter } from './metadata.js';
import { analyzeVideo } from './motion.js';
import { scanToCsv } from './scan.js';
import { writeShapesWorld } from './shapes-world.js';

function progress(label: string): (done: number, total: number) => void {
  let last = 0;
  return (done, total) => {
    const now = Date.now();
    if (done === total || now - last > 1000) {
      last = now;
      process.stderr.write(`${label}: ${done}/${total}\n`);
    }
  };
}

function parseFilters(specs: string[]): Record<string, ColumnFilter> {
  // "aes>=4.5", "flow<=100", "cmotion=static,pan_left"
  const out: Record<string, ColumnFilter> = {};
  for (const s of specs) {
    const m = /^(\w+)\s*(>=|<=|=)\s*(.+)$/.exec(s);
    if (!m) throw new Error(`bad filter '${s}'; use COLUMN>=N, COLUMN<=N or COLUMN=a,b (e.g. aes>=4.5).`);
    const [, col, op, val] = m as unknown as [string, string, string, string];
    const f = (out[col] ??= {});
    if (op === '=') f.in = val.split(',');
    else if (Number.isNaN(Number(val))) throw new Error(`filter '${s}': '${val}' is not a number.`);
    else if (op === '>=') f.min = Number(val);
    else f.max = Number(val);
  }
  return out;
}

function printReport(report: SkipReport, what: string): void {
  for (const l of report.lines()) console.log(`skip ${l}`);
  console.log(report.summary(what));
}

const program = new Command('opensora-data').description('Open-Sora data tools: metadata CSVs, motion scores, synthetic data.');

program
  .command('scan')
  .argument('<folder>', 'folder of videos and images')
  .requiredOption('-o, --output <csv>', 'CSV to write (paths are stored relative to its folder)')
  .option('--no-count-frames', 'trust the container frame count instead of decoding')
  .option('--no-recursive', 'only the top folder')
  .description('build a metadata CSV (path, text, num_frames, height, width, aspect_ratio, resolution, fps) with ffprobe')
  .action(async (folder: string, o: { output: string; countFrames: boolean; recursive: boolean }) => {
    const r = await scanToCsv(folder, o.output, { countFrames: o.countFrames, recursive: o.recursive, onProgress: progress('scan') });
    console.log(`wrote ${r.rows.length} rows to ${o.output}`);
    printReport(r.report, 'files');
  });

program
  .command('check')
  .argument('<csv>', 'metadata CSV')
  .option('--probe', 'open every file with ffprobe')
  .option('-f, --filter <spec...>', 'filters such as aes>=4.5 flow>=0.3 cmotion=static,pan_left', [])
  .description('validate a metadata CSV: every bad row with its row number and reason, then a summary')
  .action(async (csv: string, o: { probe?: boolean; filter: string[] }) => {
    const m = await readMetadata(csv, { probe: o.probe, filters: parseFilters(o.filter) });
    printReport(m.report, 'rows');
    if (m.filtered) {
      const by = Object.entries(m.filteredBy).map(([c, n]) => `${c}: ${n}`).join(', ');
      console.log(`${m.filtered} rows left out by the filters (${by}); ${m.rows.length} rows usable.`);
    }
  });

program
  .command('motion')
  .argument('<csv>', 'metadata CSV')
  .option('-o, --output <csv>', 'CSV to write (default: overwrite the input)')
  .option('--pairs <n>', 'frame pairs per clip', '8')
  .description('fill the flow (motion score) and cmotion (camera motion) columns from dense optical flow')
  .action(async (csv: string, o: { output?: string; pairs: string }) => {
    const m = await readMetadata(csv);
    const report = new SkipReport();
    report.total = m.rows.length;
    const tick = progress('motion');
    const out: Record<string, unknown>[] = [];
    let k = 0;
    for (const r of m.rows) {
      const row: Record<string, unknown> = { ...r.fields };
      try {
        if (r.numFrames > 1) {
          const res = await analyzeVideo(r.path, { maxPairs: Number(o.pairs) }, r);
          row.flow = Number(res.flow.toFixed(4));
          row.cmotion = res.cmotion;
        } else {
          row.flow = 0;
          row.cmotion = 'static';
        }
      } catch (e) {
        if (e instanceof MediaError && e.reason === 'tool-missing') throw e;
        report.add(r.row, r.fields.path ?? r.path, e instanceof MediaError ? e.reason : 'unreadable', (e as Error).message);
      }
      out.push(row);
      tick(++k, m.rows.length);
    }
    const columns = [...new Set([...m.columns, 'flow', 'cmotion'])];
    const target = o.output ?? csv;
    // Paths stay as written; they resolve against the CSV folder, so keep the output beside the input.
    if (resolve(dirname(target)) !== resolve(dirname(csv))) console.log('note: the output is in another folder; relative paths in it resolve against that folder.');
    writeCsv(target, columns, out);
    console.log(`wrote ${out.length} rows to ${target}`);
    printReport(m.report, 'rows read');
    printReport(report, 'clips scored');
  });

program
  .command('synth')
  .argument('<folder>', 'output folder (mp4 clips + meta.csv)')
  .option('-n, --num-clips <n>', 'clips', '64')
  .option('--seed <n>', 'seed', '0')
  .option('--height <px>', 'frame height', '144')
  .option('--width <px>', 'frame width', '256')
  .option('--frames <n>', 'frames per clip', '33')
  .option('--fps <n>', 'frames per second', '8')
  .description('write the synthetic "shapes world" dataset: moving shapes, pans, tilts and zooms with captions')
  .action(async (folder: string, o: Record<string, string>) => {
    const r = await writeShapesWorld(
      folder,
      { numClips: Number(o.numClips), seed: Number(o.seed), height: Number(o.height), width: Number(o.width), numFrames: Number(o.frames), fps: Number(o.fps) },
      { onProgress: progress('synth') },
    );
    console.log(`wrote ${r.rows.length} clips and ${r.csvPath}`);
  });

program.parseAsync().catch((e: Error) => {
  console.error(`opensora-data: ${e.message}`);
  process.exit(1);
});
