// opensora-sample: the reference's inference options as flags (or a JSON config / an earlier
// sidecar with --config), the demo model unless --weights names official-format checkpoints.
import { Command, InvalidArgumentError, Option } from 'commander';
import { initProcessGroup, initRuntime, type ProcessGroup } from '@opensora-ts/kernels';
import { mediaType } from '@opensora-ts/data';
import { referenceKindProblem } from './references.js';
import { runSample } from './run.js';
import { COND_TYPES, MAX_SEED, mergeSettings, parseSettings, readSettingsFile, type SampleSettingsInput } from './settings.js';
import { WEIGHTS_LAYOUT_HELP } from './weights-folder.js';

const int = (name: string) => (v: string) => {
  if (!/^[+-]?\d+$/.test(v.trim())) throw new InvalidArgumentError(`${name} must be an integer, got '${v}'.`);
  return Number(v);
};
const seedArg = (v: string) => {
  const n = int('--seed')(v);
  if (n < 0 || n > MAX_SEED) throw new InvalidArgumentError(`--seed must be from 0 to ${MAX_SEED} (32 bits; each seed in that range gives its own video), got '${v}'.`);
  return n;
};
const num = (name: string) => (v: string) => {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a number, got '${v}'.`);
  return n;
};
const collect = (v: string, prev: string[] = []) => [...prev, v];
const scoreArg = (v: string) => (Number.isFinite(Number(v)) && v.trim() !== '' ? Number(v) : v);

export function buildCommand(): Command {
  const program = new Command('opensora-sample')
    .description('Text (or image/video) to video with Open-Sora 1.3 models; the bundled demo model unless --weights is given.')
    .option('-p, --prompt <text>', 'a prompt (repeatable); "|0|a|2|b" switches text per loop; a JSON suffix {"reference_path": ...} is allowed', collect)
    .option('--prompt-path <file>', 'a text file with one prompt per line')
    .option('--prompt-file <file>', 'the same as --prompt-path; under torchrun the prompts are split over the ranks')
    .option('--negative-prompt <text>', 'negative prompt for the unconditional branch')
    .option('--resolution <name|HxW>', 'a resolution name (144p, 240p, 360p, 480p, 720p, 256, 512, ...) or HxW (default: the model\'s size)')
    .option('--aspect-ratio <H:W>', 'aspect ratio with a resolution name, e.g. 9:16 (landscape 16:9 video is "9:16": H:W)')
    .option('--num-frames <n>', 'frames (1 = an image, written as PNG)', int('--num-frames'))
    .option('--fps <n>', 'frames per second (conditioning and the mp4)', int('--fps'))
    .option('--frame-interval <n>', 'save fps = fps / frame_interval', int('--frame-interval'))
    .option('--seed <n>', `seed of the initial noise and every later draw, 0 to ${MAX_SEED} (default 1024)`, seedArg)
    .option('--steps <n>', 'sampling steps (num_sampling_steps)', int('--steps'))
    .option('--cfg-scale <x>', 'text guidance scale', num('--cfg-scale'))
    .option('--image-cfg-scale <x>', 'image guidance scale for --image/--video (default 5.0)', num('--image-cfg-scale'))
    .option('--aes <score>', 'aesthetic score (number or label) appended to the prompt', scoreArg)
    .option('--flow <score>', 'motion strength (number or label) appended to the prompt', scoreArg)
    .option('--camera-motion <label>', 'camera motion appended to the prompt (static, pan left, pan right, tilt up, tilt down, zoom in, zoom out)')
    .option('--refine', 'rewrite prompts with an LLM (OpenAI-compatible endpoint; the original is kept on any error)')
    .option('--llm-refine', 'the same as --refine (the reference\'s flag name)')
    .option('--refine-timeout <seconds>', 'seconds to wait for each refinement before keeping the prompt as given (default 30)', num('--refine-timeout'))
    .option('--refine-url <url>', 'chat-completions endpoint base (default https://api.openai.com/v1; key from OPENAI_API_KEY)')
    .option('--refine-model <name>', 'model for --refine (default gpt-4o)')
    .option('--image <file>', 'reference image (default --cond-type i2v_head)')
    .option('--video <file>', 'reference video (default --cond-type v2v_head)')
    .addOption(new Option('--cond-type <type>', 'how the reference conditions the video').choices([...COND_TYPES]))
    .option('--loops <n>', 'extend the video with this many clips, each conditioned on the last latents of the one before', int('--loops'))
    .option('--condition-frame-length <n>', 'latent frames carried from clip to clip (default 5)', int('--condition-frame-length'))
    .option('--num-sample <n>', 'samples per prompt (seeds seed, seed+1, ...)', int('--num-sample'))
    .option('--weights <folder>', `official-format checkpoints instead of the demo model (vae/, stdit/, t5/ or text-embeddings/)`)
    .option('--text-encoder <folder>', 'a T5 folder as published (config.json, spiece.model or tokenizer.json, safetensors or .bin weights), instead of the t5/ of --weights')
    .option('--text-cache <folder>', 'read and fill a text-embedding cache (EmbeddingCache) there')
    .addOption(new Option('--offload <mode>', "models in memory: 'none' keeps all three; 'model' one at a time (T5 freed before the DiT runs, the DiT before the VAE decodes); each phase's peak memory goes to the sidecar").choices(['none', 'model']))
    .option('-o, --out <file>', 'output file: .mp4 for video, .png for one frame; a .json sidecar is written beside it')
    .option('--save-dir <folder>', 'output folder when --out is not given (files sample_0000.mp4, ...)')
    .option('--overwrite', 'replace existing output files (default: an existing --out or sample_NNNN file is refused before any work)')
    .option('--crf <n>', 'x264 quality of the mp4 (0 = lossless, default 18)', int('--crf'))
    .option('--no-oscillation-guidance', 'guide at every step (the 1.3 default skips odd steps after the 10th)')
    .option('--no-flaw-fix', 'turn off the 1.3 guidance flaw fix')
    .option('--timestep-transform', 'shift the sampling timesteps by resolution and length (default: the model\'s; on for official weights)')
    .option('--no-timestep-transform', 'sample on the plain timestep grid (the demo model is trained without the shift)')
    .option('--no-sdedit', 'do not re-noise conditioned frames each step (I2V/V2V)')
    .option('--plain-progress', 'progress as plain lines even on a terminal')
    .option('--config <file>', 'a JSON config with inference keys (num_frames, cfg_scale, ...) or the .json sidecar of an earlier sample; flags override it')
    .addHelpText('after', `\n${WEIGHTS_LAYOUT_HELP}\n\nExamples:\n  opensora-sample --prompt "a red circle moves to the left" --out red.mp4\n  opensora-sample --prompt "a blue square" --image first.png --out i2v.mp4\n  opensora-sample --config red.json --out again.mp4`);
  return program;
}

/** Flags -> settings keys (only those given). */
export function flagsToSettings(o: Record<string, unknown>, explicit: (k: string) => boolean): SampleSettingsInput {
  const s: Record<string, unknown> = {};
  const set = (key: string, flag: string, v = o[flag]) => {
    if (v !== undefined) s[key] = v;
  };
  set('prompt', 'prompt');
  if (o.promptPath !== undefined && o.promptFile !== undefined) throw new InvalidArgumentError('pass either --prompt-path or --prompt-file (the same option), not both.');
  set('prompt_path', 'promptPath');
  set('prompt_path', 'promptFile');
  set('negative_prompt', 'negativePrompt');
  set('resolution', 'resolution');
  set('aspect_ratio', 'aspectRatio');
  set('num_frames', 'numFrames');
  set('fps', 'fps');
  set('frame_interval', 'frameInterval');
  set('seed', 'seed');
  set('num_sampling_steps', 'steps');
  set('cfg_scale', 'cfgScale');
  set('image_cfg_scale', 'imageCfgScale');
  set('aes', 'aes');
  set('flow', 'flow');
  set('camera_motion', 'cameraMotion');
  if (o.refine || o.llmRefine) s.llm_refine = true;
  set('refine_timeout', 'refineTimeout');
  set('refine_url', 'refineUrl');
  set('refine_model', 'refineModel');
  if (o.image !== undefined && o.video !== undefined) throw new InvalidArgumentError('pass either --image or --video, not both (use "reference_path": "a.png;b.png" in a prompt for two references).');
  for (const [flag, want] of [['image', 'image'], ['video', 'video']] as const) {
    const v = o[flag] as string | undefined;
    if (v === undefined) continue;
    for (const p of v.split(';').map((x) => x.trim()).filter(Boolean)) {
      // Whether the file exists is checked when the run starts (references.ts).
      const problem = referenceKindProblem(p, `--${flag}`);
      if (problem) throw new InvalidArgumentError(problem);
      const kind = mediaType(p);
      if (kind !== want) {
        throw new InvalidArgumentError(
          want === 'image'
            ? `--image ${p}: is a video; pass it as --video ${p} (its first frames condition the clip, v2v_head), or give a still image (.png, .jpg) to --image.`
            : `--video ${p}: is an image; pass it as --image ${p} (i2v_head).`,
        );
      }
    }
  }
  set('reference_path', 'image');
  set('reference_path', 'video');
  set('cond_type', 'condType');
  set('loop', 'loops');
  set('condition_frame_length', 'conditionFrameLength');
  set('num_sample', 'numSample');
  set('weights', 'weights');
  set('text_encoder', 'textEncoder');
  set('text_cache', 'textCache');
  set('offload', 'offload');
  set('out', 'out');
  set('save_dir', 'saveDir');
  set('crf', 'crf');
  // --no-* flags default to true in commander; only an explicit --no-x overrides a config.
  if (explicit('oscillationGuidance')) s.use_oscillation_guidance = o.oscillationGuidance;
  if (explicit('flawFix')) s.use_flaw_fix = o.flawFix;
  if (explicit('timestepTransform')) s.use_timestep_transform = o.timestepTransform;
  if (explicit('sdedit')) s.use_sdedit = o.sdedit;
  return s as SampleSettingsInput;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildCommand();
  program.exitOverride();
  try {
    program.parse(argv, { from: 'user' });
  } catch (err) {
    const code = (err as { exitCode?: number }).exitCode;
    return code ?? 2;
  }
  const o = program.opts();
  let group: ProcessGroup | undefined;
  try {
    const fromFile = o.config ? readSettingsFile(o.config as string) : undefined;
    const flags = flagsToSettings(o, (k) => program.getOptionValueSource(k) === 'cli');
    // A prompt given on the command line replaces the config's prompts (and prompt file).
    const base = fromFile && (flags.prompt || flags.prompt_path) ? { ...fromFile, prompt: undefined, prompt_path: undefined } : fromFile;
    const settings = parseSettings(mergeSettings(base, flags), o.config ? `${o.config as string} + flags` : 'flags');
    await initRuntime();
    // Under torchrun each rank samples its share of the prompts; alone, a world of one.
    group = await initProcessGroup();
    const label = group.worldSize > 1 ? `[rank ${group.rank}/${group.worldSize}] ` : '';
    const { createProgress } = await import('./progress.js');
    await runSample(settings, {
      log: (l) => console.error(`${label}${l}`),
      warn: (l) => console.error(`${label}warning: ${l}`),
      progress: createProgress(process.stderr, Boolean(o.plainProgress), label),
      argv: ['opensora-sample', ...argv],
      overwrite: Boolean(o.overwrite),
      group,
    });
    return 0;
  } catch (err) {
    console.error(`opensora-sample: ${(err as Error).message}`);
    if (process.env.OPENSORA_DEBUG) console.error((err as Error).stack);
    return 1;
  } finally {
    await group?.close();
  }
}
