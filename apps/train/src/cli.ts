// opensora-train: reads a training config (+ --set overrides), picks the tensor backend, and runs
// the DiT or VAE stage into --out, or continues one with --resume.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { initProcessGroup, initRuntime, type ProcessGroup } from '@opensora-ts/kernels';
import { listCheckpoints } from './checkpoint.js';
import { loadTrainConfig } from './config.js';
import { trainDit } from './dit-trainer.js';
import { parseOverride, type Override } from './overrides.js';
import { NonFiniteLossError } from './run-context.js';
import { trainVae } from './vae-trainer.js';

const program = new Command()
  .name('opensora-train')
  .description('Open-Sora 1.3 training (STDiT3 stages and the VAE) with exact resume.')
  .requiredOption('-c, --config <file>', 'training config JSON (configs/train/*.json)')
  .option('-o, --out <dir>', 'run folder: config, log.jsonl, loss.png, checkpoints/ (default: outputs/<config name>)')
  .option('-s, --set <key=value>', 'override a config key (repeatable), e.g. --set lr=1e-4 --set model.from_pretrained=ckpt', (v: string, acc: string[]) => [...acc, v], [] as string[])
  .option('-d, --data-path <csv>', 'metadata CSV (the same as --set dataset.data_path=CSV)')
  .option('--allow-empty-captions', "train on a CSV without a 'text' column (every caption empty) instead of refusing it (the same as --set allow_empty_captions=true)")
  .option('--text-encoder <dir>', "a T5 folder as published (the same as --set text_encoder.type=t5 --set text_encoder.from_pretrained=DIR)")
  .option('-r, --resume [checkpoint]', 'continue from a checkpoint folder or a run folder (default: the newest checkpoint in --out)')
  .option('--backend <name>', 'tensor backend: tensorflow, native, cpu (default: OPENSORA_BACKEND, then the fastest available)')
  .option('--plain', 'plain progress lines instead of a bar')
  .option('--stop-after <steps>', 'stop after this many steps without a final checkpoint (simulates a kill)', (v) => Number.parseInt(v, 10))
  .showHelpAfterError();

let group: ProcessGroup | undefined;

async function main(): Promise<void> {
  program.parse();
  const opts = program.opts<{ config: string; dataPath?: string; textEncoder?: string; out?: string; set: string[]; resume?: string | true; backend?: string; plain?: boolean; stopAfter?: number; allowEmptyCaptions?: boolean }>();
  const overrides: Override[] = opts.set.map(parseOverride);
  if (opts.dataPath) overrides.push({ path: ['dataset', 'data_path'], value: opts.dataPath, text: `dataset.data_path=${opts.dataPath}` });
  if (opts.allowEmptyCaptions) overrides.push({ path: ['allow_empty_captions'], value: true, text: 'allow_empty_captions=true' });
  if (opts.textEncoder) {
    overrides.push({ path: ['text_encoder', 'type'], value: 't5', text: 'text_encoder.type=t5' });
    overrides.push({ path: ['text_encoder', 'from_pretrained'], value: opts.textEncoder, text: `text_encoder.from_pretrained=${opts.textEncoder}` });
  }
  const { config } = loadTrainConfig(opts.config, overrides);
  const name = opts.config.replace(/^.*\//, '').replace(/\.json$/, '');
  const out = opts.out ?? join('outputs', name);
  let resume: string | null = null;
  if (opts.resume === true) resume = out;
  else if (typeof opts.resume === 'string') resume = opts.resume;
  if (!resume && !config.load && listCheckpoints(join(out, 'checkpoints')).length > 0) {
    throw new Error(`${out} already holds checkpoints; pass --resume to continue that run, or choose another --out.`);
  }
  if (resume && !existsSync(resume)) throw new Error(`--resume ${resume}: no such folder.`);
  await initRuntime(opts.backend ? { backend: opts.backend } : {});
  // Under torchrun (RANK, WORLD_SIZE, ...) this process is one rank of a data-parallel run; alone, a world of one.
  group = await initProcessGroup();
  const common = { outDir: out, resume, plainProgress: opts.plain, stopAfter: Number.isFinite(opts.stopAfter) ? opts.stopAfter : undefined, group };
  const r = config.task === 'vae' ? await trainVae({ ...common, config }) : await trainDit({ ...common, config });
  const last = r.steps.at(-1);
  if (group.rank === 0) {
    process.stderr.write(
      `done: step ${r.finalStep}${last ? `, loss ${last.loss.toFixed(5)}` : ''}${group.worldSize > 1 ? ` (mean over ${group.worldSize} ranks)` : ''}; log ${r.paths.log}, plot ${r.paths.plot}, last checkpoint ${r.lastCheckpoint ?? 'none'}\n`,
    );
  }
  await group.close();
}

main().catch((err: unknown) => {
  const e = err as Error;
  const who = group && group.worldSize > 1 ? ` [rank ${group.rank}]` : '';
  process.stderr.write(`opensora-train${who}: ${e instanceof NonFiniteLossError ? 'stopped: ' : ''}${e.message}\n`);
  if (process.env.OPENSORA_DEBUG) process.stderr.write(`${e.stack}\n`);
  process.exit(e instanceof NonFiniteLossError ? 2 : 1);
});
