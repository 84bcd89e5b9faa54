import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildCommand, flagsToSettings } from './cli.js';
import { sampleJob } from './generate.js';
import { checkExtension, outputPath, sidecarPath } from './output.js';
import { parsePromptLine, preparePromptText, readPromptFile } from './prompts.js';
import { mergeSettings, parseSettings, readSettingsFile } from './settings.js';
import { resolveImageSize } from './size.js';

const parseFlags = (argv: string[]) => {
  const program = buildCommand().exitOverride();
  program.parse(argv, { from: 'user' });
  return parseSettings(flagsToSettings(program.opts(), (k) => program.getOptionValueSource(k) === 'cli'), 'flags');
};

describe('flags', () => {
  it('map to the reference inference keys', () => {
    const s = parseFlags(['--prompt', 'a', '--prompt', 'b', '--resolution', '360p', '--aspect-ratio', '9:16', '--num-frames', '33', '--fps', '12', '--seed', '7', '--steps', '10', '--cfg-scale', '4.5', '--aes', '6.5', '--flow', 'high', '--camera-motion', 'pan left', '--negative-prompt', 'blurry', '--image', 'x.png', '--cond-type', 'i2v_tail', '--loops', '2', '--refine', '--refine-url', 'http://127.0.0.1:1/v1', '--refine-model', 'm', '--no-flaw-fix', '--out', 'o.mp4']);
    expect(s).toMatchObject({ prompt: ['a', 'b'], resolution: '360p', aspect_ratio: '9:16', num_frames: 33, fps: 12, seed: 7, num_sampling_steps: 10, cfg_scale: 4.5, aes: 6.5, flow: 'high', camera_motion: 'pan left', negative_prompt: 'blurry', reference_path: 'x.png', cond_type: 'i2v_tail', loop: 2, llm_refine: true, refine_url: 'http://127.0.0.1:1/v1', refine_model: 'm', use_flaw_fix: false, use_oscillation_guidance: true, out: 'o.mp4' });
  });

  it('leave the timestep transform to the model unless a flag sets it', () => {
    expect(parseFlags([]).use_timestep_transform).toBe(null);
    expect(parseFlags(['--no-timestep-transform']).use_timestep_transform).toBe(false);
    expect(parseFlags(['--timestep-transform']).use_timestep_transform).toBe(true);
    const s = parseFlags([]);
    const job = (useTimestepTransform: boolean) =>
      sampleJob(s, { height: 64, width: 64, numFrames: 17, fps: 8, steps: 30, cfgScale: 2, useTimestepTransform }, { item: parsePromptLine('a'), perLoop: ['a'], height: 64, width: 64, numFrames: 17, fps: 8, seed: 1, condType: null });
    expect(job(false).useTimestepTransform).toBe(false);
    expect(job(true).useTimestepTransform).toBe(true);
    expect(sampleJob(parseFlags(['--timestep-transform']), { height: 64, width: 64, numFrames: 17, fps: 8, steps: 30, cfgScale: 2, useTimestepTransform: false }, { item: parsePromptLine('a'), perLoop: ['a'], height: 64, width: 64, numFrames: 17, fps: 8, seed: 1, condType: null }).useTimestepTransform).toBe(true);
  });

  it('reject a bad number and an unknown cond type with the flag named', () => {
    expect(() => parseFlags(['--num-frames', 'ten'])).toThrow(/--num-frames must be an integer/);
    expect(() => parseFlags(['--cond-type', 'i2v_middle'])).toThrow(/i2v_middle/);
  });

  it('let flags override a config file, which may be an earlier sidecar', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sample-opts-'));
    try {
      const plain = join(dir, 'c.json');
      writeFileSync(plain, JSON.stringify({ num_frames: 49, cfg_scale: 7.0, prompt: ['from file'] }));
      const side = join(dir, 's.json');
      writeFileSync(side, JSON.stringify({ kind: 'opensora-sample', settings: { seed: 5, prompt: ['p'] } }));
      expect(parseSettings(mergeSettings(readSettingsFile(plain), { cfg_scale: 3 }))).toMatchObject({ num_frames: 49, cfg_scale: 3, prompt: ['from file'] });
      expect(readSettingsFile(side)).toEqual({ seed: 5, prompt: ['p'] });
      writeFileSync(plain, JSON.stringify({ num_frame: 49 }));
      expect(() => parseSettings(readSettingsFile(plain), plain)).toThrow(/c\.json: invalid sampling settings[\s\S]*Unrecognized key/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('configs/inference', () => {
  it('parse as sampling settings', () => {
    for (const name of ['t2v', 'v2v', 'demo']) {
      const path = join(__dirname, '..', '..', '..', 'configs', 'inference', `${name}.json`);
      expect(() => parseSettings(readSettingsFile(path), path)).not.toThrow();
    }
    expect(parseSettings(readSettingsFile(join(__dirname, '..', '..', '..', 'configs', 'inference', 't2v.json')))).toMatchObject({ resolution: '720p', num_frames: 113, cfg_scale: 7.5 });
  });
});

describe('size', () => {
  it('reads names with aspect ratios (H:W) and explicit HxW', () => {
    expect(resolveImageSize('720p', '9:16', [1, 1])).toEqual([720, 1280]);
    expect(resolveImageSize('360p', null, [1, 1])).toEqual([360, 640]);
    expect(resolveImageSize('240p', '1:1', [1, 1])).toEqual([320, 320]);
    expect(resolveImageSize('64x96', null, [1, 1])).toEqual([64, 96]);
    expect(resolveImageSize(null, null, [64, 64])).toEqual([64, 64]);
    expect(() => resolveImageSize('360q', null, [1, 1])).toThrow(/unknown resolution '360q'/);
    expect(() => resolveImageSize(null, '9:16', [1, 1])).toThrow(/needs --resolution/);
  });
});

describe('prompts', () => {
  it('split a JSON suffix and read prompt files', () => {
    expect(parsePromptLine('a red circle {"reference_path": "a.png;b.mp4", "mask_strategy": "0,0,0,0,1"}')).toEqual({ text: 'a red circle', referencePaths: ['a.png', 'b.mp4'], maskStrategy: '0,0,0,0,1' });
    expect(parsePromptLine('braces {not json}')).toEqual({ text: 'braces {not json}', referencePaths: [], maskStrategy: '' });
    expect(() => parsePromptLine('x {"refrence_path": "a.png"}')).toThrow(/unknown JSON key 'refrence_path'/);
    const dir = mkdtempSync(join(tmpdir(), 'sample-prompts-'));
    try {
      writeFileSync(join(dir, 'p.txt'), 'a red circle\n\n|0|a blue square|1|a green triangle\n');
      expect(readPromptFile(join(dir, 'p.txt'))).toEqual(['a red circle', '|0|a blue square|1|a green triangle']);
      writeFileSync(join(dir, 'e.txt'), '\n \n');
      expect(() => readPromptFile(join(dir, 'e.txt'))).toThrow(/no prompts/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('add scores and clean per loop segment, in the reference order', async () => {
    const p = await preparePromptText('|0|A Red Circle|1|A Blue Square', 3, { aes: 6.5, flow: 4, cameraMotion: 'pan left' });
    expect(p.perLoop[0]).toBe('a red circle the aesthetic score is excellent. the motion strength is fair. camera motion: pan left.');
    expect(p.perLoop[1]).toBe(p.perLoop[2]);
    expect(p.perLoop[1]).toMatch(/^a blue square the aesthetic score is excellent/);
  });

  it('keeps the prompt when refinement fails, with a warning', async () => {
    const warnings: string[] = [];
    const p = await preparePromptText('a red circle', 1, { aes: null, flow: null, cameraMotion: null, refine: { url: 'http://127.0.0.1:9/v1', onWarning: (m) => warnings.push(m) } });
    expect(p.final).toBe('a red circle');
    expect(warnings[0]).toMatch(/keeping the original prompt/);
  });
});

describe('outputs', () => {
  it('names files per prompt and sample, and checks extensions', () => {
    expect(outputPath({ out: 'a/x.mp4', saveDir: 's', index: 0, count: 1, k: 0, samples: 1, image: false })).toBe('a/x.mp4');
    expect(outputPath({ out: 'a/x.mp4', saveDir: 's', index: 2, count: 3, k: 1, samples: 2, image: false })).toBe('a/x_0002-1.mp4');
    expect(outputPath({ out: null, saveDir: 's', index: 3, count: 4, k: 0, samples: 1, image: true })).toBe(join('s', 'sample_0003.png'));
    expect(sidecarPath('a/x.mp4')).toBe(join('a', 'x.json'));
    expect(() => checkExtension('x.mp4', true)).toThrow(/PNG/);
    expect(() => checkExtension('x.png', false)).toThrow(/mp4/);
  });
});
