// `pnpm bench train --nproc 1,2`: data-parallel training as users launch it. For each N, torchrun
// (Debian's, `python3 -m torch.distributed.run`; `--redirects 1 --tee 1` because 1.13 under Python 3.11
// cannot parse its default redirect setting) starts N ranks of `opensora-train` on a tiny DiT run
// over generated shapes-world clips (per-rank batch 2, so the global batch is 2N); the rows come from
// the run's own log: ms per optimizer step, samples/s over all ranks and the gradient all-reduce's ms
// per step (median over the steps after the warm-up ones, which encode and cache the latents). The
// PyTorch row times what DDP's gloo all-reduce takes for the same number of gradient values, in 25 MiB
// buckets, with torch from OPENSORA_PYTHON (launched by that python's torchrun).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SuiteOptions } from '../cli.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
const TORCHRUN_PYTHON = '/usr/bin/python3';
/** Steps of a run, and how many first ones are left out (latent encoding, caches, JIT). */
export const DP_STEPS = 8;
export const DP_WARMUP = 3;
export const BATCH_PER_RANK = 2;

export interface DpRow {
  suite: 'train';
  case: string;
  backend: string;
  nproc: number;
  threads: number;
  batch_per_rank: number;
  global_batch: number;
  ms: number | null;
  samples_per_s: number | null;
  allreduce_ms: number | null;
  note?: string;
}

interface LogRecord {
  type: string;
  step?: number;
  samples?: number;
  samples_per_sec?: number;
  allreduce_ms?: number;
  trainable?: number;
}

const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** Step time, samples/s and all-reduce time (medians over the steps after `warmup`) from a run's log lines. */
export function summarizeLog(records: LogRecord[], warmup: number): { ms: number; samplesPerS: number; allreduceMs: number | null; steps: number } {
  const steps = records.filter((r) => r.type === 'step' && (r.step ?? 0) > warmup && r.samples && r.samples_per_sec);
  if (steps.length === 0) throw new Error(`train --nproc: the run logged no step after the first ${warmup}; see its output above`);
  const ms = median(steps.map((r) => (1000 * r.samples!) / r.samples_per_sec!));
  const reduce = steps.filter((r) => typeof r.allreduce_ms === 'number').map((r) => r.allreduce_ms!);
  return { ms, samplesPerS: (1000 * steps[0]!.samples!) / ms, allreduceMs: reduce.length ? median(reduce) : null, steps: steps.length };
}

/** The tiny run: STDiT3-tiny at depth 1, 9 frames of 32x32, a tiny frozen VAE, the demo text encoder. */
export function dpRunConfig(): Record<string, unknown> {
  return {
    dataset: { type: 'VideoTextDataset', num_frames: 9, image_size: [32, 32], shapes_world: { num_clips: 32, height: 32, width: 32, num_frames: 9, fps: 8, seed: 3 } },
    batch_size: BATCH_PER_RANK,
    seed: 7,
    max_steps: DP_STEPS,
    ckpt_every: DP_STEPS,
    log_every: 1,
    lr: 1e-4,
    adam_eps: 1e-15,
    grad_clip: 1.0,
    model: { type: 'STDiT3-tiny', kernel_size: [2, 2, -1] },
    vae: {
      type: 'tiny',
      micro_frame_size: null,
      encoder: { ch: 32, ch_mult: [1, 1, 1, 1], num_res_blocks: 1, z_channels: 16, down_sampling_layer: [1, 2] },
      decoder: { ch: 32, ch_mult: [1, 1, 1, 1], num_res_blocks: 1, z_channels: 16, temporal_up_layers: [2, 3] },
    },
    text_encoder: { type: 'demo', model_max_length: 16 },
    scheduler: { sample_method: 'logit-normal', use_timestep_transform: true },
  };
}

function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, OPENSORA_QUIET: '1', ...extra };
  for (const k of ['RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'LOCAL_WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT']) delete env[k];
  return env;
}

let port = 29600 + (process.pid % 300);

export async function runDataParallel(o: SuiteOptions, nprocs: number[]): Promise<DpRow[]> {
  const rows: DpRow[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'bench-dp-'));
  try {
    const cfg = join(dir, 'tiny.json');
    writeFileSync(cfg, JSON.stringify(dpRunConfig()));
    const backend = o.backends.find((b) => b !== 'cpu') ?? 'native';
    let numel: number | null = null;
    for (const n of nprocs) {
      // The machine's threads split over the ranks, so N ranks do not oversubscribe the cores.
      const threads = Math.max(1, Math.floor(o.threads / n));
      const out = join(dir, `run-${n}`);
      o.log(`train --nproc ${n}: torchrun, ${n} rank(s) x ${threads} thread(s), ${backend} backend, ${DP_STEPS} steps of batch ${BATCH_PER_RANK} per rank`);
      const r = spawnSync(
        TORCHRUN_PYTHON,
        ['-m', 'torch.distributed.run', '--nproc_per_node', String(n), '--master_addr', '127.0.0.1', '--master_port', String(port++), '--redirects', '1', '--tee', '1', '--no_python', process.execPath, join(repo, 'apps', 'train', 'bin.mjs'), '-c', cfg, '-o', out, '--plain', '--backend', backend],
        { cwd: repo, env: cleanEnv({ OPENSORA_THREADS: String(threads), OMP_NUM_THREADS: String(threads) }), encoding: 'utf8', timeout: 900_000 },
      );
      if (r.status !== 0) {
        // The trainer's own error lines first (torchrun's failure summary follows them).
        const text = `${r.stdout ?? ''}\n${r.stderr ?? ''}`;
        o.log([...text.split('\n').filter((l) => l.includes('opensora-train')), ...text.split('\n').slice(-8)].join('\n'));
        rows.push({ suite: 'train', case: 'tiny.dp-step', backend, nproc: n, threads, batch_per_rank: BATCH_PER_RANK, global_batch: n * BATCH_PER_RANK, ms: null, samples_per_s: null, allreduce_ms: null, note: `failed (exit ${r.status ?? r.signal}); output above` });
        continue;
      }
      const records = readFileSync(join(out, 'log.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as LogRecord);
      numel ??= records.find((x) => x.type === 'start')?.trainable ?? null;
      const s = summarizeLog(records, DP_WARMUP);
      rows.push({
        suite: 'train',
        case: 'tiny.dp-step',
        backend,
        nproc: n,
        threads,
        batch_per_rank: BATCH_PER_RANK,
        global_batch: n * BATCH_PER_RANK,
        ms: s.ms,
        samples_per_s: s.samplesPerS,
        allreduce_ms: n === 1 ? null : s.allreduceMs,
        note: `median of steps ${DP_WARMUP + 1}-${DP_STEPS}${n === 1 ? '; world of one: no all-reduce' : ''}`,
      });
    }
    if (o.torch && numel) {
      const python = process.env.OPENSORA_PYTHON ?? '/work/venv/bin/python';
      for (const n of nprocs.filter((k) => k > 1)) {
        const r = spawnSync(python, ['-m', 'torch.distributed.run', '--nproc_per_node', String(n), '--master_addr', '127.0.0.1', '--master_port', String(port++), join(repo, 'tools', 'bench', 'python', 'allreduce_gloo.py'), String(numel)], {
          cwd: repo,
          env: cleanEnv({ OMP_NUM_THREADS: '1' }),
          encoding: 'utf8',
          timeout: 300_000,
        });
        const line = (r.stdout || '').split('\n').find((l) => l.startsWith('{'));
        if (r.status !== 0 || !line) {
          o.log(`pytorch all-reduce row skipped: ${python} -m torch.distributed.run failed (${(r.stderr || '').trim().split('\n').pop()})`);
          continue;
        }
        const j = JSON.parse(line) as { allreduce_ms: number; torch: string };
        rows.push({ suite: 'train', case: 'grad all-reduce', backend: 'pytorch', nproc: n, threads: 1, batch_per_rank: BATCH_PER_RANK, global_batch: n * BATCH_PER_RANK, ms: null, samples_per_s: null, allreduce_ms: j.allreduce_ms, note: `torch ${j.torch} gloo, ${numel} float32 values (DDP's buckets), no model step` });
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

export function formatDpRows(rows: DpRow[]): string {
  const head = ['case', 'backend', 'nproc', 'threads/rank', 'batch/rank', 'global batch', 'ms/step', 'samples/s', 'all-reduce ms/step', 'note'];
  const num = (v: number | null, d = 1) => (v === null ? '-' : v >= 100 ? v.toFixed(0) : v.toFixed(d));
  const body = rows.map((r) => [r.case, r.backend, String(r.nproc), String(r.threads), String(r.batch_per_rank), String(r.global_batch), num(r.ms), num(r.samples_per_s, 2), num(r.allreduce_ms, 2), r.note ?? '']);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const left = new Set([0, 1, 9]);
  const line = (cells: string[]) => cells.map((c, i) => (left.has(i) ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}
