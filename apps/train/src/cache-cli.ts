// `opensora-train cache -c CONFIG`: fills the latent and text-embedding caches of a DiT stage
// before training (see cache-fill.ts). Takes the training command's config flags, so the cache
// it writes is the one `opensora-train -c CONFIG` with the same flags reads. Under torchrun the
// items are split over the ranks.
import { join } from 'node:path';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import cliProgress from 'cli-progress';
import { initProcessGroup, initRuntime, type ProcessGroup } from '@opensora-ts/kernels';
import { fillLatentCache } from './cache-fill.js';
import { loadTrainConfig } from './config.js';
import { parseOverride, type Override } from './overrides.js';

const positive = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a whole number >= 1, got '${v}'.`);
  return n;
};

export function buildCacheProgram(): Command {
  return new Command('opensora-train cache')
    .description('encode a DiT stage\'s dataset into its latent and text-embedding caches before training (split over ranks under torchrun; resumable)')
    .requiredOption('-c, --config <file>', 'training config JSON (the one you will train with)')
    .option('-o, --out <dir>', 'run folder, as for training (default cache: <out>/cache, or the config\'s cache_dir; default outputs/<config name>)')
    .option('-s, --set <key=value>', 'override a config key (repeatable), as for training', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('-d, --data-path <csv>', 'metadata CSV (the same as --set dataset.data_path=CSV)')
    .option('--allow-empty-captions', "accept a CSV without a 'text' column, as for training")
    .option('--text-encoder <dir>', 'a T5 folder as published (the same as --set text_encoder.type=t5 --set text_encoder.from_pretrained=DIR)')
    .option('--epochs <n>', 'cache the samples of this many epochs (keep probabilities below 1 and several buckets put samples in later epochs)', positive('--epochs'), 1)
    .option('--train-ranks <n>', 'the number of ranks you will train on (default: this command\'s): N ranks batch N x the batch size at once, which drops other remainders', positive('--train-ranks'))
    .option('--backend <name>', 'tensor backend: tensorflow, native, cpu (default: OPENSORA_BACKEND, then the fastest available)')
    .option('--plain', 'plain progress lines instead of a bar')
    .showHelpAfterError()
    .exitOverride();
}

interface CacheFlags {
  config: string;
  out?: string;
  set: string[];
  dataPath?: string;
  allowEmptyCaptions?: boolean;
  textEncoder?: string;
  epochs: number;
  trainRanks?: number;
  backend?: string;
  plain?: boolean;
}

/** Plain lines every 2 s (and the last), or a bar on a terminal of a single process. */
function progressReporter(group: ProcessGroup, plain: boolean): { update: (phase: string, done: number, total: number) => void; stop: () => void } {
  const label = group.worldSize > 1 ? `[rank ${group.rank}/${group.worldSize}] ` : '';
  if (!plain && process.stderr.isTTY && group.worldSize === 1) {
    const bar = new cliProgress.SingleBar({ format: '{phase} [{bar}] {value}/{total} | ETA {eta_formatted}', stream: process.stderr, hideCursor: true }, cliProgress.Presets.shades_classic);
    let current = '';
    return {
      update: (phase, done, total) => {
        if (phase !== current) {
          if (current) bar.stop();
          bar.start(total, 0, { phase });
          current = phase;
        }
        bar.update(done, { phase });
      },
      stop: () => current && bar.stop(),
    };
  }
  let last = 0;
  return {
    update: (phase, done, total) => {
      const now = Date.now();
      if (done === total || now - last > 2000) {
        last = now;
        process.stderr.write(`${label}${phase}: ${done}/${total}\n`);
      }
    },
    stop: () => {},
  };
}

export async function cacheMain(argv: string[]): Promise<number> {
  let group: ProcessGroup | undefined;
  try {
    const program = buildCacheProgram();
    program.parse(argv, { from: 'user' });
    const o = program.opts<CacheFlags>();
    const overrides: Override[] = o.set.map(parseOverride);
    if (o.dataPath) overrides.push({ path: ['dataset', 'data_path'], value: o.dataPath, text: `dataset.data_path=${o.dataPath}` });
    if (o.allowEmptyCaptions) overrides.push({ path: ['allow_empty_captions'], value: true, text: 'allow_empty_captions=true' });
    if (o.textEncoder) {
      overrides.push({ path: ['text_encoder', 'type'], value: 't5', text: 'text_encoder.type=t5' });
      overrides.push({ path: ['text_encoder', 'from_pretrained'], value: o.textEncoder, text: `text_encoder.from_pretrained=${o.textEncoder}` });
    }
    const { config } = loadTrainConfig(o.config, overrides);
    if (config.task === 'vae') throw new Error(`${o.config}: a VAE stage (task 'vae') trains on pixels; there are no latents to cache. Give a DiT stage's config.`);
    const out = o.out ?? join('outputs', o.config.replace(/^.*\//, '').replace(/\.json$/, ''));
    await initRuntime(o.backend ? { backend: o.backend } : {});
    group = await initProcessGroup();
    const g = group;
    const say = (l: string) => process.stderr.write(`${g.worldSize > 1 ? `[rank ${g.rank}] ` : ''}${l}\n`);
    const progress = progressReporter(group, !!o.plain);
    const r = await fillLatentCache({ config, outDir: out, epochs: o.epochs, ...(o.trainRanks ? { trainRanks: o.trainRanks } : {}), group, log: say, onProgress: (p, d, t) => progress.update(p, d, t) });
    progress.stop();
    if (group.rank === 0) {
      process.stdout.write(
        `cache filled: ${r.items} (sample, size) pairs of ${o.epochs} epoch(s): ${r.itemsEncoded} encoded now, ${r.itemsAlreadyCached} already cached${r.skipped ? `, ${r.skipped} unreadable (skipped)` : ''}; ` +
          `${r.captions} captions (${r.captionsEncoded} encoded now)${group.worldSize > 1 ? `, over ${group.worldSize} ranks` : ''}.\n  latents: ${r.latentDir}\n  text:    ${r.textDir}\n`,
      );
    }
    await group.close();
    return 0;
  } catch (e) {
    // Commander printed the usage error (or the help) itself.
    if (e instanceof CommanderError) return e.exitCode;
    const who = group && group.worldSize > 1 ? ` [rank ${group.rank}]` : '';
    process.stderr.write(`opensora-train cache${who}: ${(e as Error).message}\n`);
    if (process.env.OPENSORA_DEBUG) process.stderr.write(`${(e as Error).stack}\n`);
    return 1;
  }
}

const isMain = process.argv[1] !== undefined && /cache-cli\.ts$/.test(process.argv[1]);
if (isMain) void cacheMain(process.argv.slice(2)).then((code) => process.exit(code));
