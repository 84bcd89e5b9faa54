// `pnpm bench vae`: encode and decode of the VAE (tiny preset and a mid-size config) on our
// backends and on the reference OpenSoraVAE_V1_3 in PyTorch, same weights (ours, written to
// safetensors under the reference's keys), same input, same threads; and the peak RSS of a
// streamed decode (ChunkedVideoCodec.decodeFrames) at 17, 49 and 113 frames, each in its own
// process, against the acceptance bound (113 frames within 1.2x of 17 frames).
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { tf, withShapesOnly } from '@opensora-ts/kernels';
import { ChunkedVideoCodec, createVae, loadVaeWeights, parseVaeConfig, VAE_PRESETS, type VaeConfigInput } from '@opensora-ts/vae';
import { useBackend } from '../backends.js';
import type { SuiteOptions } from '../cli.js';
import { runIsolated } from '../isolated.js';
import { peakRssMb, resetPeakRss, rssMb } from '../memory.js';
import { measure, measuredRow, py, readTensors, referenceRows, scratchDir, writeTensors, type Measurement, type ReferenceCase } from '../model-harness.js';
import { formatCaseTable, makeCaseRow, withCaseTorchRatios, type CaseRow } from '../report.js';
import type { TimingOptions } from '../timing.js';

const SUITE = 'vae';

/** The released architecture at half width (ch 64, ch_mult [1,2,4,4], 2 res blocks): ~65M parameters. */
export const MID_VAE: VaeConfigInput = {
  encoder: { ch: 64, ch_mult: [1, 2, 4, 4], num_res_blocks: 2, z_channels: 16, down_sampling_layer: [1, 2] },
  decoder: { ch: 64, ch_mult: [1, 2, 4, 4], num_res_blocks: 2, z_channels: 16, temporal_up_layers: [2, 3] },
  micro_batch_size: 1,
  micro_frame_size: 17,
  normalization: 'video',
  temporal_overlap: true,
};

/** The released OpenSoraVAE_V1_3 (ch 128, ch_mult [1,2,4,4], 2 res blocks, ~384M parameters), with its codec options. */
const RELEASED_VAE: VaeConfigInput = VAE_PRESETS.OpenSoraVAE_V1_3!;

const CONFIGS: Record<string, VaeConfigInput> = { tiny: VAE_PRESETS.tiny!, mid: MID_VAE, released: RELEASED_VAE };

interface TimedCase {
  name: string;
  config: keyof typeof CONFIGS & string;
  op: 'encode' | 'decode';
  /** Video frames (decode: the latent of that many frames). */
  frames: number;
  size: [number, number];
  /** Run on tfjs's pure-JS cpu backend too (only where it takes under about a minute). */
  cpu: boolean;
  /** Run only when named in --cases (minutes per side); one warm-up and one timed call on each side. */
  optIn?: boolean;
}

export const TIMED: TimedCase[] = [
  { name: 'tiny.encode', config: 'tiny', op: 'encode', frames: 17, size: [64, 64], cpu: true },
  { name: 'tiny.decode', config: 'tiny', op: 'decode', frames: 17, size: [64, 64], cpu: false },
  { name: 'mid.encode', config: 'mid', op: 'encode', frames: 17, size: [64, 64], cpu: false },
  { name: 'mid.decode', config: 'mid', op: 'decode', frames: 17, size: [64, 64], cpu: false },
  { name: 'released.encode', config: 'released', op: 'encode', frames: 17, size: [256, 256], cpu: false, optIn: true },
  { name: 'released.decode', config: 'released', op: 'decode', frames: 17, size: [256, 256], cpu: false, optIn: true },
  // The same at 128x128: a quarter of the work and memory, for A/B runs of allocator settings (issue 34).
  { name: 'released.encode.128', config: 'released', op: 'encode', frames: 17, size: [128, 128], cpu: false, optIn: true },
  { name: 'released.decode.128', config: 'released', op: 'decode', frames: 17, size: [128, 128], cpu: false, optIn: true },
];

/** Streamed decodes for the memory bound: tiny model, 128x128 frames. */
export const STREAM_FRAMES = [17, 49, 113];
/** The non-streamed decode() at this many frames, for comparison. */
const WHOLE_FRAMES = 113;
const STREAM_CONFIG = 'tiny';
const STREAM_SIZE: [number, number] = [128, 128];
const RSS_BOUND = 1.2;

const TIMING: TimingOptions = { warmup: 1, minReps: 3, maxReps: 10, budgetMs: 8000 };
const SLOW_TIMING: TimingOptions = { warmup: 0, minReps: 1, maxReps: 1, budgetMs: 0 };
/** The released model at 256x256: one warm-up (oneDNN's primitive set-up, first-touch memory) and one timed call, both sides. */
const RELEASED_TIMING = { warmup: 1, minReps: 1, maxReps: 1, budgetMs: 0 };

const shape = (c: TimedCase) => `${c.frames}x${c.size[0]}x${c.size[1]}`;

// ---- child jobs ---------------------------------------------------------------------------------

type Job =
  | { kind: 'prepare'; config: string; dir: string; frames: number; size: [number, number] }
  | { kind: 'time'; config: string; dir: string; op: 'encode' | 'decode'; backend: string; threads: number; timing: TimingOptions; writeOutput: boolean }
  | { kind: 'stream'; config: string; frames: number; size: [number, number]; backend: string; threads: number; whole: boolean };

export interface StreamResult {
  ms: number;
  peak_rss_mb: number;
  rss_before_mb: number;
  frames_out: number;
  /** After each yielded piece: RSS, peak so far, live tensors and their bytes. */
  pieces: { start: number; n: number; rss_mb: number; peak_mb: number; tensors: number; tensor_mb: number }[];
}

async function start(backend: string, threads: number): Promise<void> {
  const started = await useBackend(backend, threads);
  if (!started.ok) throw new Error(`backend ${backend}: ${started.reason}`);
}

export async function childJob(job: Job): Promise<unknown> {
  if (job.kind === 'prepare') {
    // Weights and inputs are made once, on the pure-JS backend, and shared by every backend and torch.
    await start('cpu', 1);
    mkdirSync(job.dir, { recursive: true });
    const vae = createVae(CONFIGS[job.config]!);
    const codec = new ChunkedVideoCodec(vae);
    writeTensors(join(job.dir, 'weights.safetensors'), vae.stateDict());
    const [lt, lh, lw] = codec.getLatentSize([job.frames, job.size[0], job.size[1]]) as number[];
    const x = tf.randomUniform([1, 3, job.frames, job.size[0], job.size[1]], -1, 1, 'float32', 1);
    const z = tf.randomNormal([1, vae.zChannels, lt!, lh!, lw!], 0, 1, 'float32', 2);
    writeTensors(join(job.dir, 'inputs.safetensors'), new Map([['x', x], ['z', z]]));
    return { parameters: vae.parameterCount(), latent: [1, vae.zChannels, lt, lh, lw] };
  }
  await start(job.backend, job.threads);
  if (job.kind === 'time') {
    const vae = withShapesOnly(() => createVae(CONFIGS[job.config]!));
    loadVaeWeights(vae, join(job.dir, 'weights.safetensors'));
    const codec = new ChunkedVideoCodec(vae);
    const inputs = readTensors(join(job.dir, 'inputs.safetensors'));
    const step =
      job.op === 'encode'
        ? () => codec.encode(inputs.get('x') as tf.Tensor5D, { samplePosterior: false })
        : () => codec.decode(inputs.get('z') as tf.Tensor5D);
    const keep = (out: tf.Tensor | tf.Tensor[]) => {
      if (job.writeOutput) writeTensors(join(job.dir, `${job.op}.ours.safetensors`), new Map([['out', out as tf.Tensor]]));
    };
    return measure(step, job.timing, keep);
  }
  // Streamed (or, for comparison, whole) decode of a latent of `frames` frames.
  const vae = createVae(CONFIGS[job.config]!);
  const codec = new ChunkedVideoCodec(vae);
  const [lt, lh, lw] = codec.getLatentSize([job.frames, job.size[0], job.size[1]]) as number[];
  const z = tf.randomNormal([1, vae.zChannels, lt!, lh!, lw!], 0, 1, 'float32', 3) as tf.Tensor5D;
  const pieces: StreamResult['pieces'] = [];
  const rss_before_mb = rssMb();
  resetPeakRss();
  const t0 = performance.now();
  let framesOut = 0;
  const consume = (frames: tf.Tensor5D, start: number) => {
    frames.dataSync(); // a writer reads every frame to the host (ffmpeg, a file)
    framesOut += frames.shape[2];
    const n = frames.shape[2];
    frames.dispose();
    const m = tf.memory();
    pieces.push({ start, n, rss_mb: rssMb(), peak_mb: peakRssMb(), tensors: m.numTensors, tensor_mb: m.numBytes / 2 ** 20 });
  };
  if (job.whole) consume(codec.decode(z), 0);
  else for (const { frames, start } of codec.decodeFrames(z)) consume(frames, start);
  const ms = performance.now() - t0;
  const result: StreamResult = { ms, peak_rss_mb: peakRssMb(), rss_before_mb, frames_out: framesOut, pieces };
  return result;
}

// ---- the suite ----------------------------------------------------------------------------------

export async function run(o: SuiteOptions): Promise<CaseRow[]> {
  const streamCases = [...STREAM_FRAMES.map((frames) => ({ frames, whole: false })), { frames: WHOLE_FRAMES, whole: true }];
  const streamName = (c: { frames: number; whole: boolean }) => `${c.whole ? 'whole' : 'stream'}.${c.frames}f`;
  const all = [...TIMED.map((c) => c.name), ...streamCases.map(streamName)];
  const unknown = o.ops.filter((n) => !all.includes(n));
  if (unknown.length) throw new Error(`unknown case(s) ${unknown.join(', ')}; expected some of ${all.join(', ')}`);
  const want = (n: string) => !o.ops.length || o.ops.includes(n);
  const timed = TIMED.filter((c) => (c.optIn ? o.ops.includes(c.name) : want(c.name)));
  if (!o.ops.length) o.log(`the released VAE's cases (17x256x256 and 17x128x128, minutes per side) run only when named: --cases ${TIMED.filter((c) => c.optIn).map((c) => c.name).join(',')}`);
  const streams = streamCases.filter((c) => want(streamName(c)));

  const rows: CaseRow[] = [];
  const { dir, cleanup } = scratchDir(SUITE);
  try {
    // One folder per (config, input) so both ops of a config share weights.
    const folders = new Map<string, string>();
    const folderOf = (c: TimedCase) => {
      const key = `${c.config}-${shape(c)}`;
      if (!folders.has(key)) {
        const sub = join(dir, key);
        runIsolated(SUITE, { kind: 'prepare', config: c.config, dir: sub, frames: c.frames, size: c.size }, {});
        folders.set(key, sub);
      }
      return folders.get(key)!;
    };
    const ready = new Set<string>();
    for (const c of timed) {
      const sub = folderOf(c);
      for (const backend of o.backends) {
        if (backend === 'cpu' && !c.cpu) {
          o.log(`skipping ${c.name} on cpu (pure-JS cpu would take minutes; run with --backends native)`);
          continue;
        }
        const threads = backend === 'cpu' ? 1 : o.threads;
        const writeOutput = !ready.has(c.name);
        try {
          const m = runIsolated<Measurement>(SUITE, {
            kind: 'time', config: c.config, dir: sub, op: c.op, backend, threads, writeOutput,
            timing: backend === 'cpu' ? SLOW_TIMING : c.optIn ? RELEASED_TIMING : TIMING,
          } satisfies Job);
          if (writeOutput) ready.add(c.name);
          rows.push(measuredRow(SUITE, c.name, backend, threads, m));
          o.log(`${c.name} (${shape(c)}) ${backend}: ${m.ms.toFixed(1)} ms, peak RSS ${m.peak_rss_mb.toFixed(0)} MiB`);
        } catch (err) {
          o.log(`skipping ${c.name} on ${backend}: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
    }
    if (o.torch) {
      const ref = (cs: TimedCase[]) => cs.map((c) => referenceCase(c, folderOf(c), ready.has(c.name)));
      rows.push(...referenceRows(SUITE, ref(timed.filter((c) => !c.optIn)), o.threads, { warmup: 1, minReps: 3, maxReps: 10, budgetMs: 8000 }, o.log));
      rows.push(...referenceRows(SUITE, ref(timed.filter((c) => c.optIn)), o.threads, RELEASED_TIMING, o.log));
    }
    rows.push(...streamRows(streams, o));
  } finally {
    cleanup();
  }
  const order = new Map(all.map((n, i) => [n, i]));
  return withCaseTorchRatios(rows).sort((a, b) => order.get(a.case)! - order.get(b.case)!);
}

function referenceCase(c: TimedCase, dir: string, haveOurs: boolean): ReferenceCase {
  const cfg = parseVaeConfig(CONFIGS[c.config]);
  const ours = join(dir, `${c.op}.ours.safetensors`);
  const call = c.op === 'encode' ? 'vae.encode(inp["x"], sample_posterior=False)' : 'vae.decode(inp["z"])';
  return {
    name: c.name,
    setup: [
      'import json, os',
      `vae = R.build_vae(json.loads(${py(cfg)}), ${py(join(dir, 'weights.safetensors'))})`,
      `inp = R.read_safetensors(${py(join(dir, 'inputs.safetensors'))})`,
      `ours = R.read_safetensors(${py(ours)})["out"] if ${haveOurs && existsSync(ours) ? 'True' : 'False'} else None`,
      'last = [None]',
      'def step():',
      '    with torch.no_grad():',
      `        last[0] = ${call}`,
      'def check():',
      '    return {"rel_l2": R.rel_l2(last[0], ours)} if ours is not None else {}',
    ].join('\n'),
  };
}

/**
 * The streamed decode at each frame count, each in its own process, on the first non-cpu
 * backend; `whole.113f` is the non-streamed decode() of 113 frames for comparison (it keeps
 * every chunk's frames and the concatenated video).
 */
function streamRows(cases: { frames: number; whole: boolean }[], o: SuiteOptions): CaseRow[] {
  if (!cases.length) return [];
  const backend = o.backends.find((b) => b !== 'cpu');
  if (!backend) {
    o.log('skipping the streamed-decode memory cases: they need a native backend (pure-JS cpu would take many minutes)');
    return [];
  }
  const rows: CaseRow[] = [];
  const peaks = new Map<string, number>();
  for (const { frames: f, whole } of cases) {
    const name = `${whole ? 'whole' : 'stream'}.${f}f`;
    try {
      const r = runIsolated<StreamResult>(SUITE, { kind: 'stream', config: STREAM_CONFIG, frames: f, size: STREAM_SIZE, backend, threads: o.threads, whole } satisfies Job);
      peaks.set(name, r.peak_rss_mb);
      const trace = r.pieces.map((p) => p.rss_mb.toFixed(0)).join(' ');
      o.log(`${name} (${STREAM_CONFIG}, ${STREAM_SIZE.join('x')}) ${backend}: ${r.frames_out} frames in ${r.ms.toFixed(0)} ms, peak ${r.peak_rss_mb.toFixed(0)} MiB (start ${r.rss_before_mb.toFixed(0)}); RSS after each piece ${trace}; live tensors ${r.pieces.map((p) => p.tensors).join(' ')}`);
      const notes = [`rss at start ${r.rss_before_mb.toFixed(0)}`];
      if (r.pieces.length > 1) notes.push(`RSS after pieces ${Math.min(...r.pieces.map((p) => p.rss_mb)).toFixed(0)}..${Math.max(...r.pieces.map((p) => p.rss_mb)).toFixed(0)}`);
      rows.push(makeCaseRow(SUITE, name, backend, o.threads, r.ms, r.peak_rss_mb, notes.join('; ')));
    } catch (err) {
      o.log(`skipping ${name}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  const base = peaks.get('stream.17f');
  if (base !== undefined) {
    for (const r of rows) {
      if (r.case === 'stream.17f' || r.peak_rss_mb === null) continue;
      const ratio = r.peak_rss_mb / base;
      const verdict = r.case.startsWith('stream.') ? ` (${ratio <= RSS_BOUND ? 'within' : 'OVER'} the ${RSS_BOUND}x bound)` : '';
      r.note += `; ${ratio.toFixed(2)}x the stream.17f peak${verdict}`;
    }
  }
  return rows;
}

export const formatRows = formatCaseTable;
