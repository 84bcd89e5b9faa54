// opensora-eval: flags and config in, the eval package's protocol called, progress and files out.
// loss, vae and samples split their items over the ranks when launched by torchrun.
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { initRuntime, tf, writeFileAtomic, type BackendName } from '@opensora-ts/kernels';
import { decodeFrames, readMetadata, writeVideo } from '@opensora-ts/data';
import { loadTextEncoder } from '@opensora-ts/conditioning';
import { loadSTDiT3, stdit3FlowModelFn, stdit3Preset, STDIT3_PRESETS } from '@opensora-ts/stdit';
import { ChunkedVideoCodec, createVae, loadLpips, loadVaeWeights } from '@opensora-ts/vae';
import {
  combinePairMetrics,
  evalBatchCount,
  evalLossTables,
  loadEvalBatches,
  newResults,
  parseEvalLossConfig,
  readPromptSuite,
  pairMetrics,
  readResults,
  runEvalLoss,
  runSharded,
  scoreShapesSamples,
  shapesPromptSuite,
  writeReport,
  writeResults,
  writeVBenchSamples,
  type BatchLosses,
  type PairMetrics,
  type SampleScore,
  type Video,
} from '@opensora-ts/eval';
import { loadSampler } from './load-sampler.js';
import { Progress } from './progress.js';
import { closeShardedRun, fileIdentity, fingerprintOf, openShardedRun } from './sharded-run.js';

const int = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a non-negative integer, got '${v}'.`);
  return n;
};

/** "42,1000,2000" -> [42, 1000, 2000]. */
const intList = (name: string) => (v: string) => {
  const parts = v.split(',').map((x) => x.trim());
  if (!parts.every((x) => /^\d+$/.test(x))) throw new InvalidArgumentError(`${name} must be comma-separated non-negative integers (e.g. 42,1000,2000), got '${v}'.`);
  return parts.map(Number);
};

function readJson(path: string, what: string): unknown {
  if (!existsSync(path)) throw new Error(`${path}: ${what} not found.`);
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`${path}: ${what} is not valid JSON (${(e as Error).message}).`);
  }
}

async function finish(name: string, out: string | undefined, reportDir: string | undefined, section: Parameters<typeof writeResults>[1]): Promise<void> {
  const results = out ? writeResults(resolve(out), section) : section;
  if (out) console.log(`results: ${resolve(out)}`);
  if (reportDir) {
    const r = await writeReport([results], reportDir, { title: `Open-Sora evaluation: ${name}` });
    console.log(`report: ${r.files[0]}`);
  }
}

/** `--model-config`: a preset name or a JSON file of STDiT3 config keys. */
function modelConfig(spec: string | undefined): Record<string, unknown> | undefined {
  if (!spec) return undefined;
  if (spec in STDIT3_PRESETS) return stdit3Preset(spec as keyof typeof STDIT3_PRESETS) as unknown as Record<string, unknown>;
  if (existsSync(spec)) return readJson(spec, 'model config') as Record<string, unknown>;
  throw new Error(`--model-config ${spec}: neither a preset (${Object.keys(STDIT3_PRESETS).join(', ')}) nor a JSON file.`);
}

async function lossCommand(o: {
  ckpt: string; data: string; config: string; vae: string; vaeConfig: string; modelConfig?: string; textEncoder: string;
  name?: string; out?: string; report?: string; backend?: string;
}): Promise<void> {
  await initRuntime(o.backend ? { backend: o.backend as BackendName } : {});
  const config = parseEvalLossConfig(readJson(o.config, 'eval config'), o.config);
  const meta = await readMetadata(o.data);
  if (meta.report.lines().length > 0) console.error(meta.report.summary());
  const override = modelConfig(o.modelConfig);
  const model = loadSTDiT3(o.ckpt, override ? { config: override as never } : {});
  // The demo encoder (its word-order channels when the DiT is twice its width) or a T5 folder.
  const text = loadTextEncoder(o.textEncoder, { maxLength: model.config.model_max_length, captionChannels: model.config.caption_channels });
  // A preset name, or a JSON file: VAE config keys, or a model.json with a "vae" key (the demo model's).
  let vae: ReturnType<typeof createVae>;
  try {
    vae = createVae(o.vaeConfig);
  } catch (err) {
    throw new Error(`--vae-config ${(err as Error).message.replace(/^VAE config '[^']*': /, `${o.vaeConfig}: `)}`);
  }
  loadVaeWeights(vae, o.vae);
  const codec = new ChunkedVideoCodec(vae);
  const name = o.name ?? basename(resolve(o.ckpt));
  // Under torchrun each rank scores its share of every bucket's batches; rank 0 writes the merged report.
  const run = await openShardedRun<BatchLosses>('loss', o.out, {
    ckpt: fileIdentity(o.ckpt), data: fileIdentity(o.data), config, vae: fileIdentity(o.vae), vaeConfig: o.vaeConfig, modelConfig: o.modelConfig ?? null, textEncoder: o.textEncoder,
  });
  const itemKey = (b: { resolution: string; numFrames: number }, i: number) => `loss-${b.resolution.replace(/[^A-Za-z0-9]/g, '_')}-${b.numFrames}f-b${String(i).padStart(6, '0')}`;
  let bar: Progress | undefined;
  const report = await runEvalLoss(
    stdit3FlowModelFn(model.eval()), // eval mode: no caption dropout, no drop path
    {
      count: (bucket) => evalBatchCount(meta.rows, bucket, config.seed),
      load: async (bucket, positions) => {
        console.error(`${run.label}bucket ${bucket.resolution}/${bucket.numFrames}f: reading and encoding ${positions.length} batch(es)`);
        return loadEvalBatches(meta.rows, bucket, {
          encodeVideo: (x) => codec.encode(x as tf.Tensor5D, { seed: config.seed }),
          encodeText: async (p) => text.encode(p),
        }, { seed: config.seed, batches: positions, onSkip: (l) => console.error(`${run.label}skipped: ${l}`) });
      },
    },
    config,
    {
      group: run.group,
      ...(run.store ? { done: (b, i) => run.store!.get(itemKey(b, i)), onBatchDone: (b, i, l) => run.store!.put(itemKey(b, i), l) } : {}),
      onProgress: (p) => {
        if (p.timestepIndex === 0 && p.batch === 0) {
          bar?.stop();
          bar = new Progress(`${run.label}loss ${p.bucket.resolution}/${p.bucket.numFrames}f`, p.timesteps * p.batchesInBucket);
        }
        bar?.update(p.batch * p.timesteps + p.timestepIndex + 1, p.timesteps * p.batchesInBucket, `batch ${p.batch + 1}/${p.batchesInBucket}`);
      },
    },
  );
  bar?.stop();
  text.dispose();
  if (run.writer) {
    console.log(evalLossTables(report));
    await finish(name, o.out, o.report, { ...newResults(name), loss: report });
  }
  await closeShardedRun(run);
}

function listVideos(dir: string): string[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new Error(`${dir}: not a folder of videos.`);
  return readdirSync(dir).filter((f) => !f.startsWith('.') && statSync(join(dir, f)).isFile()).sort().map((f) => join(dir, f));
}

/** The reference's frame choice: linspace(0, n_total - 1, num_frames) truncated to integers. */
async function loadClip(path: string, numFrames: number): Promise<Video> {
  const all = await decodeFrames(path);
  const n = Math.min(numFrames, all.numFrames);
  const idx = Array.from({ length: n }, (_, k) => (n === 1 ? 0 : Math.trunc((k * (all.numFrames - 1)) / (n - 1))));
  const fb = all.height * all.width * 3;
  const data = new Uint8Array(n * fb);
  idx.forEach((f, k) => data.set(all.data.subarray(f * fb, (f + 1) * fb), k * fb));
  return { data, numFrames: n, height: all.height, width: all.width, fps: all.fps };
}

async function vaeCommand(o: { real: string; recon: string; numFrames: number; lpipsWeights?: string; name?: string; out?: string; report?: string }): Promise<void> {
  const real = listVideos(o.real);
  const recon = listVideos(o.recon);
  if (real.length !== recon.length) throw new Error(`${o.real} has ${real.length} files but ${o.recon} has ${recon.length}; they are paired in sorted order and must match.`);
  let lpips: { fn: (a: tf.Tensor4D, b: tf.Tensor4D) => tf.Tensor1D; net: string } | undefined;
  if (o.lpipsWeights) {
    await initRuntime();
    const net = loadLpips(o.lpipsWeights);
    lpips = { fn: (a, b) => net.forward(a, b), net: 'vgg16 (the vae package; the reference evaluates with AlexNet)' };
  } else console.error('LPIPS skipped: no --lpips-weights FILE given (weights cannot be downloaded here). FloLPIPS is not implemented.');
  // Under torchrun each rank decodes and scores its share of the pairs; rank 0 writes the merged metrics.
  const run = await openShardedRun<PairMetrics>('vae', o.out, {
    real: resolve(o.real), recon: resolve(o.recon), numFrames: o.numFrames, lpips: o.lpipsWeights ? fileIdentity(o.lpipsWeights) : null,
  });
  // A stored pair is reused while its two files are unchanged (replacing one file recomputes that pair only).
  const pairTag = (i: number) => `:${fingerprintOf([fileIdentity(real[i]!), fileIdentity(recon[i]!)])}`;
  const pairKey = (i: number) => `vae-${String(i).padStart(6, '0')}`;
  const bar = new Progress(`${run.label}pairs`, real.length);
  const rows = await runSharded(
    real.length,
    async (i) => {
      const a = await loadClip(real[i]!, o.numFrames);
      const b = await loadClip(recon[i]!, o.numFrames);
      return pairMetrics(a, b, lpips ? { lpips } : {}, `${basename(real[i]!)} vs ${basename(recon[i]!)}`);
    },
    {
      group: run.group,
      ...(run.store ? { done: (i: number) => run.store!.get(pairKey(i), pairTag(i)), onDone: (i: number, v: PairMetrics) => run.store!.put(pairKey(i), v, pairTag(i)) } : {}),
      onProgress: (d, t, i, reused) => bar.update(d, t, `${reused ? 'kept ' : ''}${basename(real[i]!)}`),
    },
  );
  bar.stop();
  const m = combinePairMetrics(rows, lpips?.net);
  if (run.writer) {
    console.log(`PSNR ${m.psnr.mean.toFixed(3)} dB  SSIM ${m.ssim.mean.toFixed(4)}${m.lpips ? `  LPIPS ${m.lpips.mean.toFixed(4)}` : ''}  (${m.videos} videos x ${m.frames} frames)`);
    const name = o.name ?? basename(resolve(o.recon));
    await finish(name, o.out, o.report, { ...newResults(name), vae: m });
  }
  await closeShardedRun(run);
}

async function samplesCommand(o: {
  suite: string; n: number; sampler?: string; weights?: string; sampleConfig?: string; height?: number; width?: number; numFrames?: number; fps?: number; seed: number;
  seeds?: number[];
  json?: string; out?: string; save?: string; generationMetrics?: boolean; name?: string; report?: string; backend?: string;
}): Promise<void> {
  if (o.suite !== 'shapes') throw new Error(`--suite ${o.suite}: only 'shapes' (held-out shapes-world prompts) is scored here; for VBench prompts use 'opensora-eval vbench'.`);
  // Without it tfjs falls back to its pure-JS backend: about 15x slower per sample than native.
  await initRuntime(o.backend ? { backend: o.backend as BackendName } : {});
  const size = { height: o.height, width: o.width, numFrames: o.numFrames, fps: o.fps };
  // The ground truth is rendered at the generator's default size unless one is given.
  const suite = shapesPromptSuite(o.n, Object.fromEntries(Object.entries(size).filter(([, v]) => v !== undefined)));
  const sampler = await loadSampler(o.sampler, { ...size, ...(o.weights ? { weights: o.weights } : {}), ...(o.sampleConfig ? { sampleConfig: o.sampleConfig } : {}) }, suite);
  // Under torchrun each rank samples and scores its share of the videos (and saves those); rank 0 writes the summary.
  const resumeFile = o.out ?? o.json;
  const run = await openShardedRun<SampleScore>('samples', resumeFile, {
    suite: o.suite, n: o.n, sampler: o.sampler ?? null, weights: o.weights ? fileIdentity(o.weights) : null, sampleConfig: o.sampleConfig ? fileIdentity(o.sampleConfig) : null,
    size, seed: o.seed, seeds: o.seeds ?? null, generationMetrics: o.generationMetrics ?? false, save: o.save ? resolve(o.save) : null,
  });
  const bar = new Progress(`${run.label}samples`, suite.length);
  const itemKey = (k: number) => `sample-${String(k).padStart(6, '0')}`;
  const r = await scoreShapesSamples(suite.map((s) => s.prompt), sampler, {
    suite: 'shapes',
    seed: o.seed,
    ...(o.seeds ? { seeds: o.seeds } : {}),
    generationMetrics: o.generationMetrics ?? false,
    ...(o.save ? { saveDir: resolve(o.save), write: (p: string, v: Video) => writeVideoOf(p, v) } : {}),
    group: run.group,
    ...(run.store ? { done: (k: number) => run.store!.get(itemKey(k)), onDone: (k: number, row: SampleScore) => run.store!.put(itemKey(k), row) } : {}),
    onProgress: (d, t) => bar.update(d, t),
  });
  bar.stop();
  if (!run.writer) return closeShardedRun(run);
  const summary = { color_accuracy: r.color_accuracy, direction_accuracy: r.direction_accuracy, camera_accuracy: r.camera_accuracy, n: r.n, n_direction: r.n_direction, ...(r.per_seed ? { per_seed: r.per_seed } : {}) };
  console.log(JSON.stringify(summary));
  if (o.json) {
    mkdirSync(dirname(resolve(o.json)), { recursive: true });
    writeFileAtomic(resolve(o.json), `${JSON.stringify(summary, null, 2)}\n`);
  }
  const name = o.name ?? (o.sampler ? basename(o.sampler) : 'samples');
  if (o.out || o.report) await finish(name, o.out, o.report, { ...newResults(name), samples: r });
  await closeShardedRun(run);
}

async function writeVideoOf(path: string, v: Video): Promise<void> {
  mkdirSync(dirname(path), { recursive: true });
  const bytes = v.data instanceof Uint8Array ? v.data : Uint8Array.from(v.data, (x) => Math.max(0, Math.min(255, Math.round(x * 255))));
  await writeVideo(path, bytes, v.numFrames, v.height, v.width, { fps: v.fps ?? 8 });
}

async function vbenchCommand(o: { prompts: string; out: string; sampler?: string; weights?: string; sampleConfig?: string; samplesPerPrompt: number; seed: number; height?: number; width?: number; numFrames?: number; fps?: number; backend?: string }): Promise<void> {
  if (o.sampler === 'ground-truth') throw new Error("--sampler ground-truth: VBench prompts have no shapes-world ground truth; use the default 'demo' sampler, --weights DIR, or a sampler module.");
  await initRuntime(o.backend ? { backend: o.backend as BackendName } : {});
  const prompts = readPromptSuite(o.prompts);
  const sampler = await loadSampler(o.sampler, { height: o.height, width: o.width, numFrames: o.numFrames, fps: o.fps, ...(o.weights ? { weights: o.weights } : {}), ...(o.sampleConfig ? { sampleConfig: o.sampleConfig } : {}) }, []);
  // Under torchrun each rank samples and writes its share of the files (existing files are kept: a re-run resumes).
  const run = await openShardedRun<never>('vbench', undefined, null);
  const bar = new Progress(`${run.label}vbench`, prompts.length * o.samplesPerPrompt);
  const files = await writeVBenchSamples(prompts, sampler, o.out, { samplesPerPrompt: o.samplesPerPrompt, seed: o.seed, write: writeVideoOf, group: run.group, onProgress: (d, t, f, skipped) => bar.update(d, t, skipped ? `kept ${basename(f)}` : basename(f)) });
  bar.stop();
  await closeShardedRun(run);
  if (run.writer) console.log(`${files.length} videos in ${resolve(o.out)} (${o.samplesPerPrompt} per prompt, named {prompt}-{index}.mp4): point VBench's evaluate at this folder.`);
}

async function reportCommand(files: string[], o: { out: string; title?: string }): Promise<void> {
  const runs = files.map((f) => readResults(resolve(f)));
  const r = await writeReport(runs, o.out, o.title ? { title: o.title } : {});
  for (const f of r.files) console.log(f);
}

export function buildProgram(): Command {
  const p = new Command('opensora-eval').description('Open-Sora 1.3 evaluation: validation loss, VAE reconstruction metrics, sample adherence, reports.').showHelpAfterError();
  p.command('loss')
    .description('rectified-flow validation loss per bucket and timestep (eval_loss.py)')
    .requiredOption('--ckpt <path>', 'STDiT3 checkpoint: model.safetensors or a folder with config.json')
    .requiredOption('--data <csv>', 'metadata CSV (path,text,num_frames,height,width,...)')
    .requiredOption('--config <json>', 'eval config: bucket_config, num_eval_timesteps, seed, dtype')
    .requiredOption('--vae <path>', 'VAE weights (safetensors)')
    .option('--vae-config <name>', 'VAE preset, or a .json file: VAE config keys, or a model.json with a "vae" key (as the demo model has)', 'OpenSoraVAE_V1_3')
    .option('--model-config <name|json>', 'STDiT3 preset name or JSON file (merged over the folder config.json)')
    .option('--text-encoder <demo|dir>', "text encoder: 'demo', or a T5 folder as published (config.json, spiece.model or tokenizer.json, safetensors or .bin weights)", 'demo')
    .option('--name <label>', 'run label in reports (default: checkpoint folder name)')
    .option('--out <json>', 'results file (merged if it exists)')
    .option('--report <dir>', 'write report.md and plots here')
    .option('--backend <name>', 'tensor backend (native, tensorflow, cpu)')
    .action((o) => lossCommand(o));
  p.command('vae')
    .description('reconstruction metrics (PSNR, SSIM, LPIPS with local weights) of paired videos')
    .requiredOption('--real <dir>', 'original videos')
    .requiredOption('--recon <dir>', 'reconstructions, same file order')
    .option('--num-frames <n>', 'frames per video (linspace over the clip)', int('--num-frames'), 17)
    .option('--lpips-weights <file>', 'LPIPS weights (safetensors, VGG16 layout of the vae package)')
    .option('--name <label>', 'run label in reports')
    .option('--out <json>', 'results file')
    .option('--report <dir>', 'write report.md and plots here')
    .action((o) => vaeCommand(o));
  p.command('samples')
    .description('generate held-out shapes-world prompts and score colour, direction and camera adherence')
    .option('--suite <name>', "prompt suite ('shapes')", 'shapes')
    .option('-n, --n <count>', 'prompts', int('--n'), 50)
    .option('--sampler <module>', "'demo' (the sample app: the bundled demo model, or --weights), 'ground-truth', or a module exporting createSampler({height,width,numFrames,fps})", 'demo')
    .option('--weights <dir>', "official-format weights folder for the 'demo' sampler (as opensora-sample --weights)")
    .option('--sample-config <json>', "sampling settings for the 'demo' sampler, as opensora-sample --config (cfg_scale, num_sampling_steps, use_oscillation_guidance, ...)")
    .option('--height <px>', "video height (default: the model's; ground truth 144)", int('--height'))
    .option('--width <px>', "video width (default: the model's; ground truth 256)", int('--width'))
    .option('--num-frames <n>', "frames (default: the model's; ground truth 33)", int('--num-frames'))
    .option('--fps <n>', "frames per second (default: the model's; ground truth 8)", int('--fps'))
    .option('--seed <n>', 'seed of the first sample (then +1 per prompt)', int('--seed'), 42)
    .option('--seeds <list>', 'score the suite once per seed (e.g. 42,1000,2000; each as --seed) and pool the videos; overrides --seed', intList('--seeds'))
    .option('--json <file>', 'write {color_accuracy, direction_accuracy, camera_accuracy, n[, per_seed]} here')
    .option('--generation-metrics', 'also temporal flickering and the motion-smoothness / dynamic-degree estimates')
    .option('--save <dir>', 'keep the generated videos')
    .option('--name <label>', 'run label in reports')
    .option('--out <json>', 'results file')
    .option('--report <dir>', 'write report.md here')
    .option('--backend <name>', 'tensor backend (native, tensorflow, cpu)')
    .action((o) => samplesCommand(o));
  p.command('vbench')
    .description('write a VBench prompt suite\'s samples as VBench expects them ({prompt}-{index}.mp4, 5 per prompt)')
    .requiredOption('--prompts <file>', 'prompt suite, one per line (VBench all_dimension.txt)')
    .requiredOption('--out <dir>', 'output folder')
    .option('--sampler <module>', "'demo' (the sample app: the bundled demo model, or --weights) or a module exporting createSampler(...)", 'demo')
    .option('--weights <dir>', "official-format weights folder for the 'demo' sampler")
    .option('--sample-config <json>', "sampling settings for the 'demo' sampler, as opensora-sample --config (cfg_scale, num_sampling_steps, use_oscillation_guidance, ...)")
    .option('--samples-per-prompt <n>', 'videos per prompt', int('--samples-per-prompt'), 5)
    .option('--seed <n>', 'seed of sample 0 (then +1)', int('--seed'), 42)
    .option('--height <px>', "video height (default: the model's)", int('--height'))
    .option('--width <px>', "video width (default: the model's)", int('--width'))
    .option('--num-frames <n>', "frames (default: the model's)", int('--num-frames'))
    .option('--fps <n>', "frames per second (default: the model's)", int('--fps'))
    .option('--backend <name>', 'tensor backend (native, tensorflow, cpu)')
    .action((o) => vbenchCommand(o));
  p.command('report')
    .description('results JSON file(s) -> report.md with PNG plots; two runs side by side')
    .argument('<results...>', 'results files')
    .requiredOption('--out <dir>', 'output folder')
    .option('--title <text>', 'report title')
    .action((files: string[], o) => reportCommand(files, o));
  return p;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv, { from: 'user' });
    return 0;
  } catch (e) {
    console.error(`opensora-eval: ${(e as Error).message}`);
    return 1;
  }
}

const isMain = process.argv[1] !== undefined && /cli\.ts$/.test(process.argv[1]);
if (isMain) void main(process.argv.slice(2)).then((code) => process.exit(code));
