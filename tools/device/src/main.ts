// The Node side of tools/device/gpu-check.sh, bundled by tools/device/pack.sh into one file that
// runs on a machine without node_modules (the GPU machine gets only the carried tree):
//   ops                 the torch backend's op tests (packages/tfjs-backend-torch/src/**.test.ts,
//                       through a small vitest stand-in) on OPENSORA_DEVICE
//   parity DIR...       the parity runners over case folders, as `pnpm parity`
//   models SIZE OUT     our side of the model checks (SIZE full: XL STDiT3 at the 360p/49-frame
//                       latent, the released VAE, the 30-step CFG sample; tiny: the same code on
//                       the tiny presets, for --dry-run); writes OUT (JSON) and config files for
//                       the reference side
//   report DIR          joins ops/parity/models/reference results into gpu-check.json and .md
// Every line it prints is also meant for a log; the exit code is non-zero when a check fails.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compareParityOutput, initProcessGroup, initRuntime, loadParityCase, tf, type ParityRunner } from '@opensora-ts/kernels';
import { OPEN_SORA_13_SAMPLER, RFlowSampler } from '@opensora-ts/flow';
import { parityRunners as flowRunners } from '@opensora-ts/flow/parity';
import { parityRunners as stditRunners } from '@opensora-ts/stdit/parity';
import { parityRunners as vaeRunners } from '@opensora-ts/vae/parity';
import { parityRunners as conditioningRunners } from '@opensora-ts/conditioning/parity';
import { STDiT3, parseSTDiT3Config, stdit3FlowModelFn, stdit3Preset, type STDiT3Inputs } from '@opensora-ts/stdit';
import { createVae, ChunkedVideoCodec, parseVaeConfig, VAE_PRESETS } from '@opensora-ts/vae';
import { connectC10d, registerTorchBackend, torchBackendInfo } from '@opensora-ts/tfjs-backend-torch';
import { rflowSample } from '../../parity/src/kinds/rflow-sample.js';
import { run as runTests } from './vitest-shim.js';

const log = (line: string) => process.stdout.write(line + '\n');
const device = process.env.OPENSORA_DEVICE || 'cpu';

// ---- ops ----------------------------------------------------------------------------------------

async function ops(): Promise<number> {
  // The op tests register torch on OPENSORA_DEVICE at import (testing.ts) and compare with cpu.
  await import('../../../packages/tfjs-backend-torch/src/kernels/elementwise.test.js');
  await import('../../../packages/tfjs-backend-torch/src/kernels/reduce.test.js');
  await import('../../../packages/tfjs-backend-torch/src/kernels/copy.test.js');
  await import('../../../packages/tfjs-backend-torch/src/kernels/matmul.test.js');
  await import('../../../packages/tfjs-backend-torch/src/kernels/conv.test.js');
  await import('../../../packages/tfjs-backend-torch/src/kernels/fused.test.js');
  await import('../../../packages/tfjs-backend-torch/src/census.test.js');
  await import('../../../packages/tfjs-backend-torch/src/precision.test.js');
  const r = await runTests(log);
  const info = torchBackendInfo();
  log(`ops on torch (${info?.device}, libtorch ${info?.version}): ${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped`);
  writeFileSync(process.env.GPU_CHECK_OPS_JSON ?? 'ops.json', JSON.stringify({ device: info?.device, version: info?.version, ...r }, null, 2));
  return r.failed === 0 && r.passed > 0 ? 0 : 1;
}

// ---- parity -------------------------------------------------------------------------------------

async function parity(dirs: string[], outJson: string): Promise<number> {
  const rt = await startTorch();
  const runners = new Map<string, ParityRunner>(Object.entries({ ...vaeRunners, ...stditRunners, ...flowRunners, ...conditioningRunners, rflow_sample: rflowSample }));
  const rows: { case: string; pass: boolean; rel_l2: number | null; max_abs: number | null; s: number; error?: string }[] = [];
  log(`parity on backend ${rt.backend} (${rt.device}, libtorch ${rt.version}): ${dirs.length} case(s)`);
  for (const dir of dirs) {
    const c = loadParityCase(dir);
    const run = runners.get(c.json.kind);
    const start = performance.now();
    if (!run) {
      rows.push({ case: c.name, pass: false, rel_l2: null, max_abs: null, s: 0, error: `kind ${c.json.kind} not implemented` });
      continue;
    }
    try {
      const report = compareParityOutput(c, await run(c));
      const s = (performance.now() - start) / 1000;
      rows.push({ case: c.name, pass: report.pass, rel_l2: report.worstRelL2, max_abs: report.worstMaxAbs, s });
      log(`${c.name.padEnd(22)} rel_l2 ${report.worstRelL2.toExponential(2)}  max_abs ${report.worstMaxAbs.toExponential(2)}  ${report.pass ? 'pass' : 'FAIL'}  (${s.toFixed(1)}s)`);
      for (const cmp of report.comparisons) if (!cmp.pass) log(`    MISS ${cmp.name}: rel_l2 ${cmp.relL2.toExponential(2)} max_abs ${cmp.maxAbs.toExponential(2)}`);
    } catch (err) {
      rows.push({ case: c.name, pass: false, rel_l2: null, max_abs: null, s: (performance.now() - start) / 1000, error: (err as Error).message });
      log(`${c.name.padEnd(22)} error: ${(err as Error).message}`);
    }
  }
  const failed = rows.filter((r) => !r.pass).length;
  log(`${rows.length - failed} passed, ${failed} failed`);
  writeFileSync(outJson, JSON.stringify({ device: rt.device, version: rt.version, fallbacks: torchBackendInfo()?.fallbacks ?? {}, rows }, null, 2));
  return failed === 0 ? 0 : 1;
}

// ---- models -------------------------------------------------------------------------------------

interface Size {
  stdit: string;
  vae: 'OpenSoraVAE_V1_3' | 'tiny';
  /** Pixel video: frames, height, width; the latent is [1, 16, (F-1)/4+1, H/8, W/8] (H rounded up). */
  frames: number;
  height: number;
  width: number;
  steps: number;
  validTokens: number;
}

const SIZES: Record<string, Size> = {
  // 360p at 16:9 with 49 frames, as the reference's 360p bucket: a [1,16,13,45,80] latent, ~12,000 tokens at patch 2.
  full: { stdit: 'STDiT3-XL/2', vae: 'OpenSoraVAE_V1_3', frames: 49, height: 360, width: 640, steps: 30, validTokens: 120 },
  // --dry-run on a CPU: the same code paths at toy sizes.
  tiny: { stdit: 'STDiT3-tiny', vae: 'tiny', frames: 17, height: 64, width: 64, steps: 3, validTokens: 8 },
};

export interface ModelRow {
  case: string;
  side: 'ours' | 'reference';
  precision: string;
  ms: number | null;
  note?: string;
}

/** Fastest of `reps` timed calls after one warm-up; each call ends with a host read, so device work is inside. */
function timeIt(fn: () => tf.Tensor, reps: number): { ms: number; out: Float32Array } {
  let best = Infinity;
  let out = new Float32Array();
  for (let i = 0; i <= reps; i++) {
    const t0 = performance.now();
    const y = fn();
    const host = y.dataSync() as Float32Array;
    const ms = performance.now() - t0;
    y.dispose();
    if (i > 0) best = Math.min(best, ms);
    out = host;
  }
  return { ms: best, out };
}

/**
 * The torch backend on OPENSORA_DEVICE, through initRuntime as the apps start it (the packages call
 * initRuntime too, and must find it chosen). initRuntime imports '@opensora-ts/tfjs-backend-torch'
 * by a name the bundle cannot inline, so a two-line package of that name beside the bundle hands
 * it the bundled module.
 */
async function startTorch(): Promise<{ backend: string; device: string; version: string }> {
  const pkg = join(dirname(fileURLToPath(import.meta.url)), 'node_modules', '@opensora-ts', 'tfjs-backend-torch');
  mkdirSync(pkg, { recursive: true });
  writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: '@opensora-ts/tfjs-backend-torch', type: 'module', main: 'index.mjs' }));
  writeFileSync(
    join(pkg, 'index.mjs'),
    'const m = globalThis.__gpuCheckTorch;\nexport const registerTorchBackend = (o) => m.registerTorchBackend(o);\nexport const torchBackendInfo = () => m.torchBackendInfo();\nexport const connectC10d = (o) => m.connectC10d(o);\n',
  );
  (globalThis as { __gpuCheckTorch?: unknown }).__gpuCheckTorch = { registerTorchBackend, torchBackendInfo, connectC10d };
  const d = await initRuntime({ backend: 'torch', announce: false });
  if (tf.getBackend() !== 'torch') throw new Error(`initRuntime chose ${tf.getBackend()}, not torch`);
  return { backend: d.backend, device: d.device ?? device, version: d.version ?? '?' };
}

function setPrecision(precision: 'fp32' | 'bf16'): void {
  registerTorchBackend({ device, precision });
}

async function models(sizeName: string, dir: string): Promise<number> {
  const size = SIZES[sizeName];
  if (!size) throw new Error(`models: size '${sizeName}', expected ${Object.keys(SIZES).join(' or ')}`);
  const rt = await startTorch();
  const rows: ModelRow[] = [];
  const lt = (size.frames - 1) / 4 + 1;
  const lh = Math.ceil(size.height / 8);
  const lw = Math.ceil(size.width / 8);
  const latent = [1, 16, lt, lh, lw];
  const cfg = parseSTDiT3Config(stdit3Preset(size.stdit));
  const L = cfg.model_max_length;
  writeFileSync(join(dir, 'spec.json'), JSON.stringify({ ...size, size: sizeName, stditPreset: size.stdit, vaePreset: size.vae, latent, stdit: cfg, vae: parseVaeConfig(VAE_PRESETS[size.vae]!) }, null, 2));
  log(`models (${sizeName}) on torch ${rt.device}, libtorch ${rt.version}: latent [${latent}], ${L} caption tokens (${size.validTokens} valid)`);

  // (a) STDiT3 forward, fp32 then bf16. Random weights with the reference initialisation.
  let t0 = performance.now();
  const model = new STDiT3(stdit3Preset(size.stdit), { seed: 0 }).eval();
  const buildS = (performance.now() - t0) / 1000;
  log(`  ${size.stdit}: ${model.parameterCount().toLocaleString('en-US')} parameters, random init ${buildS.toFixed(1)} s`);
  const mask = new Int32Array(L).fill(1, 0, size.validTokens);
  const x = tf.randomNormal(latent, 0, 1, 'float32', 1);
  const y = tf.randomNormal([1, 1, L, cfg.caption_channels], 0, 1, 'float32', 2);
  const maskT = tf.tensor2d(mask, [1, L], 'int32');
  const inputs: STDiT3Inputs = { x, y, mask: maskT, timestep: [500], fps: [24], height: [size.height], width: [size.width] };
  for (const precision of ['fp32', 'bf16'] as const) {
    setPrecision(precision);
    try {
      const { ms } = timeIt(() => model.forward(inputs), 2);
      rows.push({ case: 'stdit_fwd', side: 'ours', precision, ms });
      log(`  (a) STDiT3 forward ${precision}: ${ms.toFixed(0)} ms`);
    } catch (err) {
      rows.push({ case: 'stdit_fwd', side: 'ours', precision, ms: null, note: `failed: ${(err as Error).message.split('\n')[0]}` });
      log(`  (a) STDiT3 forward ${precision} failed: ${(err as Error).message}`);
    }
  }

  // (c) the full sample with CFG (Open-Sora 1.3's t2v settings: guidance 7.5, oscillation, flaw fix), bf16.
  setPrecision('bf16');
  try {
    const sampler = new RFlowSampler({ ...OPEN_SORA_13_SAMPLER, numSamplingSteps: size.steps });
    const yNull = model.yEmbedder.yEmbedding.tensor!;
    t0 = performance.now();
    const z = await sampler.sample(stdit3FlowModelFn(model), {
      text: { y, mask: maskT, yNull },
      meta: { height: size.height, width: size.width, numFrames: size.frames, fps: 24, ar: size.height / size.width },
      shape: latent,
      rng: 1024,
    });
    z.dataSync();
    const ms = performance.now() - t0;
    z.dispose();
    rows.push({ case: 'sample', side: 'ours', precision: 'bf16', ms, note: `${size.steps} steps, CFG 7.5 (2 forwards a step)` });
    log(`  (c) ${size.steps}-step CFG sample bf16: ${(ms / 1000).toFixed(1)} s`);
  } catch (err) {
    rows.push({ case: 'sample', side: 'ours', precision: 'bf16', ms: null, note: `failed: ${(err as Error).message.split('\n')[0]}` });
    log(`  (c) sample failed: ${(err as Error).message}`);
  }
  model.dispose();
  tf.dispose([x, y, maskT]);

  // (b) VAE decode of the latent, fp32 (the reference decodes in fp32 too).
  setPrecision('fp32');
  try {
    t0 = performance.now();
    const vae = createVae(size.vae);
    log(`  VAE ${size.vae}: ${vae.parameterCount().toLocaleString('en-US')} parameters, random init ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const codec = new ChunkedVideoCodec(vae);
    const zl = tf.randomNormal(latent, 0, 1, 'float32', 3) as tf.Tensor5D;
    const { ms } = timeIt(() => codec.decode(zl), 1);
    rows.push({ case: 'vae_decode', side: 'ours', precision: 'fp32', ms, note: `${size.frames} frames ${size.height}x${size.width}` });
    log(`  (b) VAE decode fp32: ${ms.toFixed(0)} ms`);
    zl.dispose();
  } catch (err) {
    rows.push({ case: 'vae_decode', side: 'ours', precision: 'fp32', ms: null, note: `failed: ${(err as Error).message.split('\n')[0]}` });
    log(`  (b) VAE decode failed: ${(err as Error).message}`);
  }
  const mem = tf.memory() as { cudaPeakBytes?: number };
  writeFileSync(join(dir, 'models.ours.json'), JSON.stringify({ device: rt.device, version: rt.version, cuda_peak_bytes: mem.cudaPeakBytes ?? null, rows }, null, 2));
  return rows.every((r) => r.ms !== null) ? 0 : 1;
}

// ---- report -------------------------------------------------------------------------------------

function readJson<T>(path: string): T | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

function report(dir: string): number {
  const ops = readJson<{ device: string; version: string; passed: number; failed: number; skipped: number; failures: string[] }>(join(dir, 'ops.json'));
  const par = readJson<{ device: string; version: string; rows: { case: string; pass: boolean; rel_l2: number | null; max_abs: number | null; error?: string }[] }>(join(dir, 'parity.json'));
  const ours = readJson<{ device: string; version: string; cuda_peak_bytes: number | null; rows: ModelRow[] }>(join(dir, 'models.ours.json'));
  const ref = readJson<{ torch: string; device: string; gpu?: string; rows: ModelRow[] }>(join(dir, 'models.reference.json'));
  const phases = readJson<Record<string, { rc: number; s: number }>>(join(dir, 'phases.json')) ?? {};
  const dp = readJson<{ backend: string; device: string; bucket_mib: number; step_ms_median: number; all_reduce_ms_median: number; host_all_reduce_ms: number; samples_per_s: number; max_abs_diff_reduced_vs_local: number }>(join(dir, 'ddp.json'));
  const lines: string[] = ['# gpu-check', ''];
  lines.push(`device ${ours?.device ?? par?.device ?? ops?.device ?? '?'}, libtorch ${ours?.version ?? par?.version ?? '?'}; reference PyTorch ${ref?.torch ?? '-'} on ${ref?.gpu ?? ref?.device ?? '-'}`, '');
  lines.push('| phase | rc | seconds |', '|---|---|---|');
  for (const [k, v] of Object.entries(phases)) lines.push(`| ${k} | ${v.rc} | ${v.s.toFixed(0)} |`);
  lines.push('');
  if (dp) {
    lines.push(
      `data-parallel step (${dp.backend}, world size 1, ${dp.device}): step ${dp.step_ms_median.toFixed(1)} ms (${dp.samples_per_s.toFixed(0)} samples/s), ` +
        `all-reduce of a ${dp.bucket_mib.toFixed(1)} MiB gradient bucket ${dp.all_reduce_ms_median.toFixed(2)} ms on the device, ${dp.host_all_reduce_ms.toFixed(1)} ms from host memory; max |reduced - local| ${dp.max_abs_diff_reduced_vs_local}`,
      '',
    );
  }
  if (ops) lines.push(`op tests on torch: ${ops.passed} passed, ${ops.failed} failed, ${ops.skipped} skipped`, ...ops.failures.map((f) => `- FAIL ${f}`), '');
  if (par) {
    lines.push('| parity case | rel_l2 | max_abs | verdict |', '|---|---|---|---|');
    for (const r of par.rows) lines.push(`| ${r.case} | ${r.rel_l2?.toExponential(2) ?? '-'} | ${r.max_abs?.toExponential(2) ?? '-'} | ${r.pass ? 'pass' : `FAIL${r.error ? `: ${r.error}` : ''}`} |`);
    lines.push('');
  }
  const table: Record<string, unknown>[] = [];
  if (ours) {
    lines.push('| case | precision | ours ms | reference ms | ours / reference | note |', '|---|---|---|---|---|---|');
    for (const r of ours.rows) {
      const rr = ref?.rows.find((x) => x.case === r.case && x.precision === r.precision);
      const ratio = r.ms !== null && rr?.ms ? r.ms / rr.ms : null;
      table.push({ case: r.case, precision: r.precision, ours_ms: r.ms, reference_ms: rr?.ms ?? null, ratio, note: [...new Set([r.note, rr?.note].filter(Boolean))].join('; ') });
      lines.push(`| ${r.case} | ${r.precision} | ${r.ms?.toFixed(0) ?? '-'} | ${rr?.ms?.toFixed(0) ?? '-'} | ${ratio?.toFixed(2) ?? '-'} | ${[...new Set([r.note, rr?.note].filter(Boolean))].join('; ')} |`);
    }
    if (ours.cuda_peak_bytes) lines.push('', `CUDA caching allocator peak (ours): ${(ours.cuda_peak_bytes / 2 ** 30).toFixed(1)} GiB`);
    lines.push('', 'Goal (issue 30): sample within 1.5x of the reference (ours / reference <= 1.5) at the same precision; parity on cuda in fp32 within tolerances.');
  }
  const md = lines.join('\n') + '\n';
  writeFileSync(join(dir, 'gpu-check.md'), md);
  writeFileSync(join(dir, 'gpu-check.json'), JSON.stringify({ phases, ops, parity: par, ddp: dp, models: { ours, reference: ref, table } }, null, 2));
  process.stdout.write(md);
  return 0;
}

// ---- a data-parallel step through the process group (issue 32) ----------------------------------

/**
 * One rank of data-parallel training on the device: a c10d group of world size 1 (NCCL on cuda,
 * Gloo on the cpu of --dry-run; NCCL refuses two ranks on one GPU), then timed steps of forward +
 * backward of a two-layer MLP whose gradients make one 24 MiB bucket (0.75 MiB under --dry-run), all-reduced
 * (avg) on the device with pg.allReduceTensor (what averageGradients does per bucket at N > 1;
 * at N = 1 it skips the collective), and an SGD update. Checks that the reduced bucket equals the
 * local one (the mean over one rank) and that a host all-reduce works too.
 */
async function ddp(outJson: string): Promise<number> {
  const rt = await startTorch();
  const backend = device.startsWith('cuda') ? 'nccl' : 'gloo';
  const port = 20000 + (process.pid % 20000);
  const env = { RANK: '0', WORLD_SIZE: '1', LOCAL_RANK: '0', LOCAL_WORLD_SIZE: '1', MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port) };
  const t0 = performance.now();
  const pg = await initProcessGroup({ env, backend });
  const connectMs = performance.now() - t0;
  if (!pg.allReduceTensor) throw new Error(`the ${pg.backend} group has no allReduceTensor`);
  const [din, hidden, dout, batch] = device.startsWith('cuda') ? [2048, 1536, 2048, 256] : [256, 384, 256, 16]; // cuda: 24 MiB of gradients
  const w1 = tf.variable(tf.randomNormal([din, hidden], 0, 0.02, 'float32', 1));
  const w2 = tf.variable(tf.randomNormal([hidden, dout], 0, 0.02, 'float32', 2));
  const x = tf.randomNormal([batch, din], 0, 1, 'float32', 3);
  const y = tf.randomNormal([batch, dout], 0, 1, 'float32', 4);
  const bucketBytes = (w1.size + w2.size) * 4;
  const steps: { stepMs: number; allReduceMs: number; loss: number }[] = [];
  let maxDiff = 0;
  for (let i = 0; i < 8; i++) {
    const s0 = performance.now();
    const { value, grads } = tf.variableGrads(() => tf.losses.meanSquaredError(y, tf.matMul(tf.relu(tf.matMul(x, w1)), w2)) as tf.Scalar, [w1, w2]);
    const names = [w1.name, w2.name];
    const flat = tf.tidy(() => tf.concat(names.map((n) => grads[n]!.reshape([-1])), 0));
    await flat.data(); // the backward is done before the collective is timed
    const a0 = performance.now();
    const reduced = await pg.allReduceTensor(flat, 'avg');
    await reduced.data();
    const allReduceMs = performance.now() - a0;
    maxDiff = Math.max(maxDiff, tf.tidy(() => tf.max(tf.abs(tf.sub(reduced, flat))).dataSync()[0]!));
    tf.tidy(() => {
      const [g1, g2] = tf.split(reduced, [w1.size, w2.size], 0);
      w1.assign(tf.sub(w1, tf.mul(g1!.reshape(w1.shape), 0.1)));
      w2.assign(tf.sub(w2, tf.mul(g2!.reshape(w2.shape), 0.1)));
    });
    const loss = (await value.data())[0]!;
    tf.dispose([value, flat, reduced, ...Object.values(grads)]);
    steps.push({ stepMs: performance.now() - s0, allReduceMs, loss });
  }
  const host = new Float32Array(bucketBytes / 4).fill(1.5);
  const h0 = performance.now();
  await pg.allReduce(host, 'sum');
  const hostAllReduceMs = performance.now() - h0;
  const hostOk = host.every((v) => v === 1.5);
  await pg.barrier();
  await pg.close();
  tf.dispose([w1, w2, x, y]);
  const timed = steps.slice(2); // the first steps pay for cuBLAS / NCCL set-up
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
  const result = {
    device: rt.device,
    version: rt.version,
    backend: pg.backend,
    world_size: pg.worldSize,
    bucket_mib: bucketBytes / 2 ** 20,
    batch,
    connect_ms: connectMs,
    step_ms_median: median(timed.map((s) => s.stepMs)),
    all_reduce_ms_median: median(timed.map((s) => s.allReduceMs)),
    first_all_reduce_ms: steps[0]!.allReduceMs,
    host_all_reduce_ms: hostAllReduceMs,
    samples_per_s: batch / (median(timed.map((s) => s.stepMs)) / 1000),
    losses: steps.map((s) => s.loss),
    max_abs_diff_reduced_vs_local: maxDiff,
    host_all_reduce_ok: hostOk,
  };
  writeFileSync(outJson, JSON.stringify(result, null, 2));
  log(`ddp: ${pg.backend} on ${rt.device}: step ${result.step_ms_median.toFixed(1)} ms, all-reduce of ${result.bucket_mib.toFixed(1)} MiB ${result.all_reduce_ms_median.toFixed(2)} ms, host all-reduce ${hostAllReduceMs.toFixed(1)} ms, max |reduced - local| ${maxDiff}`);
  const lossFell = steps[steps.length - 1]!.loss < steps[0]!.loss;
  return maxDiff === 0 && hostOk && lossFell ? 0 : 1;
}

// ---- main ---------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const [cmd, ...args] = process.argv.slice(2);
  if (cmd === 'ops') return ops();
  if (cmd === 'parity') return parity(args.slice(1), args[0]!);
  if (cmd === 'models') return models(args[0]!, args[1]!);
  if (cmd === 'report') return report(args[0]!);
  if (cmd === 'ddp') return ddp(args[0]!);
  process.stderr.write('usage: gpu-check.mjs ops | parity OUT.json DIR... | models full|tiny OUTDIR | ddp OUT.json | report DIR\n');
  return 2;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
