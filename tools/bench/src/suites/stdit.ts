// `pnpm bench stdit`: STDiT3 forward and forward+backward (tiny preset and a mid-size config) on
// our backends and on the reference STDiT3 in PyTorch, same weights (ours, written to
// safetensors under the reference's keys), same inputs, same threads, each measurement in its
// own process so its peak RSS is its own. Goal on native: no slower than 1.5x PyTorch (a
// `vs torch` ratio of at least 0.67). With --xl, also STDiT3-XL/2 with random weights: one
// forward on a [1,16,1,32,32] latent on native and in the reference (each its own random init),
// times and peak RSS.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { freeingVariableGrads, tf, withShapesOnly } from '@opensora-ts/kernels';
import { STDiT3, loadSTDiT3Weights, parseSTDiT3Config, stdit3Preset, type STDiT3ConfigInput, type STDiT3Inputs } from '@opensora-ts/stdit';
import { useBackend } from '../backends.js';
import type { SuiteOptions } from '../cli.js';
import { runIsolated } from '../isolated.js';
import { peakRssMb } from '../memory.js';
import { measure, measuredRow, py, readTensors, referenceRows, scratchDir, writeTensors, type Measurement, type ReferenceCase } from '../model-harness.js';
import { formatCaseTable, makeCaseRow, withCaseTorchRatios, type CaseRow } from '../report.js';
import type { TimingOptions } from '../timing.js';

const SUITE = 'stdit';

interface ModelSpec {
  config: STDiT3ConfigInput;
  /** Latent [B, C, T, H, W]. */
  latent: [number, number, number, number, number];
  /** Caption tokens that are valid (the rest of model_max_length is padding, as T5 gives it). */
  validTokens: number;
  /** Run on tfjs's pure-JS cpu backend too (only where it takes under about a minute). */
  cpu: boolean;
}

export const MODELS: Record<string, ModelSpec> = {
  tiny: { config: stdit3Preset('STDiT3-tiny'), latent: [1, 16, 5, 16, 16], validTokens: 8, cpu: true },
  /** depth 4, hidden 384, 8 heads, 4096-channel captions of 300 tokens (120 valid). */
  mid: { config: stdit3Preset('STDiT3-mid'), latent: [1, 16, 5, 16, 16], validTokens: 120, cpu: false },
};

const XL = { config: stdit3Preset('STDiT3-XL/2'), latent: [1, 16, 1, 32, 32] as [number, number, number, number, number], validTokens: 120 };

type Op = 'fwd' | 'fwd_bwd';
const OPS: Op[] = ['fwd', 'fwd_bwd'];

const TIMING: TimingOptions = { warmup: 1, minReps: 3, maxReps: 20, budgetMs: 5000 };
const SLOW_TIMING: TimingOptions = { warmup: 0, minReps: 1, maxReps: 1, budgetMs: 0 };

// ---- child jobs ---------------------------------------------------------------------------------

type Job =
  | { kind: 'prepare'; model: string; dir: string }
  | { kind: 'time'; model: string; dir: string; op: Op; backend: string; threads: number; timing: TimingOptions; writeOutput: boolean }
  | { kind: 'xl'; backend: string; threads: number };

export interface XlResult extends Measurement {
  build_ms: number;
  /** Peak RSS of the process while the random weights were made, MiB. */
  build_peak_rss_mb: number;
  parameters: number;
}

async function start(backend: string, threads: number): Promise<void> {
  const started = await useBackend(backend, threads);
  if (!started.ok) throw new Error(`backend ${backend}: ${started.reason}`);
}

/**
 * A case folder's random weights and inputs, made once (on the pure-JS backend) and shared by every
 * backend and torch. Every weight is random (no zero-initialised branches), so the check against
 * torch covers every path.
 */
export function writeStditCase(dir: string, config: STDiT3ConfigInput, inputs: Map<string, tf.Tensor>): STDiT3 {
  mkdirSync(dir, { recursive: true });
  const model = new STDiT3(config, { referenceInit: false, seed: 0 });
  writeTensors(join(dir, 'weights.safetensors'), model.stateDict());
  writeTensors(join(dir, 'inputs.safetensors'), inputs);
  return model;
}

/** The case folder's STDiT3, its weights loaded from weights.safetensors. */
export function loadStditCase(dir: string, config: STDiT3ConfigInput): STDiT3 {
  const model = withShapesOnly(() => new STDiT3(config, { referenceInit: false }));
  loadSTDiT3Weights(model, join(dir, 'weights.safetensors'));
  return model;
}

function makeInputs(spec: Pick<ModelSpec, 'config' | 'latent' | 'validTokens'>): Map<string, tf.Tensor> {
  const c = parseSTDiT3Config(spec.config);
  const [b, , , h, w] = spec.latent;
  const L = c.model_max_length;
  const mask = new Int32Array(b * L);
  for (let i = 0; i < b; i++) mask.fill(1, i * L, i * L + Math.min(spec.validTokens, L));
  return new Map<string, tf.Tensor>([
    ['x', tf.randomNormal(spec.latent, 0, 1, 'float32', 1)],
    ['y', tf.randomNormal([b, 1, L, c.caption_channels], 0, 1, 'float32', 2)],
    ['mask', tf.tensor2d(mask, [b, L], 'int32')],
    ['timestep', tf.fill([b], 500)],
    ['fps', tf.fill([b], 24)],
    ['height', tf.fill([b], h * 8)],
    ['width', tf.fill([b], w * 8)],
  ]);
}

function forwardInputs(t: Map<string, tf.Tensor>): STDiT3Inputs {
  const host = (k: string) => Array.from(t.get(k)!.dataSync());
  return { x: t.get('x')!, y: t.get('y')!, mask: t.get('mask')!, timestep: host('timestep'), fps: host('fps'), height: host('height'), width: host('width') };
}

/**
 * One step of `op`: the output (fwd) or the loss mean(out^2) and every trainable parameter's gradient,
 * through the backward the trainers use (freeingVariableGrads: tf.variableGrads's bits, less memory held).
 */
function stepOf(model: STDiT3, inputs: STDiT3Inputs, op: Op): () => tf.Tensor | tf.Tensor[] {
  if (op === 'fwd') return () => model.forward(inputs);
  const vars = model.trainableVariables();
  return () => {
    const { value, grads } = freeingVariableGrads(() => tf.mean(tf.square(model.forward(inputs))) as tf.Scalar, vars);
    return [value, ...Object.values(grads)];
  };
}

export async function childJob(job: Job): Promise<unknown> {
  if (job.kind === 'prepare') {
    // Weights and inputs are made once, on the pure-JS backend, and shared by every backend and torch.
    await start('cpu', 1);
    const spec = MODELS[job.model]!;
    return { parameters: writeStditCase(job.dir, spec.config, makeInputs(spec)).parameterCount() };
  }
  await start(job.backend, job.threads);
  if (job.kind === 'time') {
    const spec = MODELS[job.model]!;
    const model = loadStditCase(job.dir, spec.config).eval();
    const inputs = forwardInputs(readTensors(join(job.dir, 'inputs.safetensors')));
    const keep = (out: tf.Tensor | tf.Tensor[]) => {
      if (!job.writeOutput) return;
      const t = Array.isArray(out) ? out[0]! : out; // fwd_bwd: the loss
      writeTensors(join(job.dir, `${job.op}.ours.safetensors`), new Map([['out', t]]));
    };
    return measure(stepOf(model, inputs, job.op), job.timing, keep);
  }
  // XL: random weights with the reference initialisation, then one forward.
  const t0 = performance.now();
  const model = new STDiT3(XL.config, { seed: 0 }).eval();
  const inputs = forwardInputs(makeInputs(XL));
  const build_ms = performance.now() - t0;
  const build_peak_rss_mb = peakRssMb();
  const m = measure(() => model.forward(inputs), SLOW_TIMING);
  const result: XlResult = { ...m, build_ms, build_peak_rss_mb, parameters: model.parameterCount({ includeBuffers: true }) };
  return result;
}

// ---- the suite ----------------------------------------------------------------------------------

const caseName = (model: string, op: Op) => `${model}.${op}`;

export async function run(o: SuiteOptions): Promise<CaseRow[]> {
  const timedNames = Object.keys(MODELS).flatMap((m) => OPS.map((op) => caseName(m, op)));
  const all = [...timedNames, 'xl.fwd'];
  const unknown = o.ops.filter((n) => !all.includes(n));
  if (unknown.length) throw new Error(`unknown case(s) ${unknown.join(', ')}; expected some of ${all.join(', ')}`);
  const want = (n: string) => !o.ops.length || o.ops.includes(n);

  const rows: CaseRow[] = [];
  const refCases: ReferenceCase[] = [];
  const { dir, cleanup } = scratchDir(SUITE);
  try {
    for (const [model, spec] of Object.entries(MODELS)) {
      const ops = OPS.filter((op) => want(caseName(model, op)));
      if (!ops.length) continue;
      const sub = join(dir, model);
      const prep = runIsolated<{ parameters: number }>(SUITE, { kind: 'prepare', model, dir: sub } satisfies Job);
      o.log(`${model}: ${prep.parameters.toLocaleString('en-US')} parameters, latent [${spec.latent}], ${spec.validTokens} valid caption tokens`);
      for (const op of ops) {
        const name = caseName(model, op);
        let wrote = false;
        for (const backend of o.backends) {
          if (backend === 'cpu' && !spec.cpu) {
            o.log(`skipping ${name} on cpu (pure-JS cpu would take minutes; run with --backends native)`);
            continue;
          }
          const threads = backend === 'cpu' ? 1 : o.threads;
          try {
            const m = runIsolated<Measurement>(SUITE, {
              kind: 'time', model, dir: sub, op, backend, threads, writeOutput: !wrote,
              timing: backend === 'cpu' ? SLOW_TIMING : TIMING,
            } satisfies Job);
            wrote = true;
            rows.push(measuredRow(SUITE, name, backend, threads, m));
            o.log(`${name} ${backend}: ${m.ms.toFixed(1)} ms, peak RSS ${m.peak_rss_mb.toFixed(0)} MiB (${m.rss_before_mb.toFixed(0)} at start)`);
          } catch (err) {
            o.log(`skipping ${name} on ${backend}: ${err instanceof Error ? err.message : String(err)}`);
          }
        }
        refCases.push(referenceCase(name, spec, sub, op, wrote));
      }
    }
    if (o.torch) rows.push(...referenceRows(SUITE, refCases, o.threads, { warmup: 1, minReps: 3, maxReps: 20, budgetMs: 5000 }, o.log));
  } finally {
    cleanup();
  }
  if (o.xl && want('xl.fwd')) rows.push(...xlRows(o));
  else if (o.ops.includes('xl.fwd')) o.log('xl.fwd needs --xl (it takes minutes and ~5 GB)');
  const order = new Map(all.map((n, i) => [n, i]));
  return withCaseTorchRatios(rows).sort((a, b) => order.get(a.case)! - order.get(b.case)!);
}

function referenceCase(name: string, spec: ModelSpec, dir: string, op: Op, haveOurs: boolean): ReferenceCase {
  const cfg = parseSTDiT3Config(spec.config);
  const ours = join(dir, `${op}.ours.safetensors`);
  const call = 'model(inp["x"], inp["timestep"], inp["y"], mask=inp["mask"], fps=inp["fps"], height=inp["height"], width=inp["width"])';
  const body =
    op === 'fwd'
      ? ['    with torch.no_grad():', `        last[0] = ${call}`]
      : ['    model.zero_grad(set_to_none=True)', `    loss = ${call}.pow(2).mean()`, '    loss.backward()', '    last[0] = loss.detach()'];
  return {
    name,
    setup: [
      'import json',
      `model = R.build_stdit3(json.loads(${py(cfg)}), ${py(join(dir, 'weights.safetensors'))})`,
      `inp = R.read_safetensors(${py(join(dir, 'inputs.safetensors'))})`,
      `ours = R.read_safetensors(${py(ours)})["out"] if ${haveOurs && existsSync(ours) ? 'True' : 'False'} else None`,
      'last = [None]',
      'def step():',
      ...body,
      'def check():',
      '    return {"rel_l2": R.rel_l2(last[0], ours)} if ours is not None else {}',
    ].join('\n'),
  };
}

/** STDiT3-XL/2 in the reference with its own random init, on inputs of XL's shapes (makeInputs' values do not matter for time). */
function xlReferenceCase(): ReferenceCase {
  const cfg = parseSTDiT3Config(XL.config);
  const [b, c, t, h, w] = XL.latent;
  const L = cfg.model_max_length;
  return {
    name: 'xl.fwd',
    setup: [
      'import json',
      `model = R.build_stdit3(json.loads(${py(cfg)}))`,
      'g = torch.Generator().manual_seed(0)',
      `x = torch.randn(${b}, ${c}, ${t}, ${h}, ${w}, generator=g); y = torch.randn(${b}, 1, ${L}, ${cfg.caption_channels}, generator=g)`,
      `mask = torch.zeros(${b}, ${L}, dtype=torch.long); mask[:, :${XL.validTokens}] = 1`,
      `ts = torch.full((${b},), 500.0); fps = torch.full((${b},), 24.0); hh = torch.full((${b},), ${h * 8}.0); ww = torch.full((${b},), ${w * 8}.0)`,
      'def step():',
      '    with torch.no_grad():',
      '        model(x, ts, y, mask=mask, fps=fps, height=hh, width=ww)',
      'def check():',
      '    return {"note": "reference random init (not our weights): time only"}',
    ].join('\n'),
  };
}

function xlRows(o: SuiteOptions): CaseRow[] {
  const backend = o.backends.find((b) => b !== 'cpu');
  if (!backend) {
    o.log('skipping xl.fwd: it needs a native backend');
    return [];
  }
  o.log(`xl.fwd: STDiT3-XL/2 with random weights, one forward on [${XL.latent}] on ${backend} (minutes, ~5 GB)...`);
  try {
    const r = runIsolated<XlResult>(SUITE, { kind: 'xl', backend, threads: o.threads } satisfies Job);
    const note = `${r.parameters.toLocaleString('en-US')} state-dict elements; random init ${(r.build_ms / 1000).toFixed(0)} s, peak ${r.build_peak_rss_mb.toFixed(0)} MiB while building`;
    o.log(`xl.fwd ${backend}: ${r.ms.toFixed(0)} ms, peak RSS ${r.peak_rss_mb.toFixed(0)} MiB (${r.rss_before_mb.toFixed(0)} at start); ${note}`);
    const rows = [measuredRow(SUITE, 'xl.fwd', backend, o.threads, r, note)];
    // The reference's own random init (writing 1.1B weights to share them would cost more than the
    // forward): timings compare, outputs do not. One forward on each side, no warm-up on either.
    if (o.torch) rows.push(...referenceRows(SUITE, [xlReferenceCase()], o.threads, { warmup: 0, minReps: 1, maxReps: 1, budgetMs: 0 }, o.log));
    return rows;
  } catch (err) {
    o.log(`xl.fwd failed: ${err instanceof Error ? err.message : String(err)}`);
    return [makeCaseRow(SUITE, 'xl.fwd', backend, o.threads, null, null, `failed: ${err instanceof Error ? err.message : String(err)}`)];
  }
}

export const formatRows = formatCaseTable;
