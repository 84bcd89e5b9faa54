import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { compareParityOutput, loadParityCase } from '@opensora-ts/kernels';
import { parityRunners } from './parity.js';
import { aesToText, cameraMotionText, flowToText } from './scores.js';
import { appendScoreToPrompt, mergeCameraMotion, score2text } from './templates.js';
import { mergePrompt, promptForLoop, splitPrompt } from './loop-prompt.js';
import { preparePrompt } from './prepare-prompt.js';
import { cleanCaption, textPreprocessing } from './clean-caption.js';

const fixture = (name: string) => fileURLToPath(new URL(`../test/fixtures/${name}`, import.meta.url));

describe('captions parity fixture', () => {
  it('reproduces every inference and training string of the reference', async () => {
    const c = loadParityCase(fixture('captions'));
    const report = compareParityOutput(c, await parityRunners.captions!(c));
    const misses = report.comparisons.filter((x) => !x.pass).map((x) => `${x.name}: ${x.detail}`);
    expect(misses).toEqual([]);
    expect(report.comparisons.length).toBeGreaterThan(90);
  });
});

describe('score words', () => {
  it('uses strict < thresholds', () => {
    expect([3.99, 4, 4.49, 4.5, 5, 5.5, 6, 6.49, 6.5, Number.NaN].map(aesToText)).toEqual([
      'terrible', 'very poor', 'very poor', 'poor', 'fair', 'good', 'very good', 'very good', 'excellent', 'excellent',
    ]);
    expect([0.49, 0.5, 1.99, 2, 5, 9.99, 10, 19.99, 20].map(flowToText)).toEqual([
      'very low', 'low', 'low', 'fair', 'high', 'high', 'very high', 'very high', 'extremely high',
    ]);
  });
  it('maps camera labels with underscores or spaces, and skips the detector-only ones', () => {
    expect(cameraMotionText('pan_left')).toBe('pan left');
    expect(cameraMotionText('zoom out')).toBe('zoom out');
    expect(cameraMotionText('dynamic')).toBeUndefined();
    expect(mergeCameraMotion('x.', 'unknown')).toBe('x.');
  });
});

describe('templates', () => {
  it('reads numeric strings as numbers and keeps words as given', () => {
    expect(appendScoreToPrompt('p', { aes: ' 6.5 ', flow: 'meh' })).toBe('p The aesthetic score is excellent. The motion strength is meh.');
    expect(appendScoreToPrompt('p', { aes: '1e1' })).toBe('p The aesthetic score is excellent.');
  });
  it('skips a phrase already present (case-sensitive)', () => {
    expect(appendScoreToPrompt('The Aesthetic Score Is good', { aes: 5 })).toBe('The Aesthetic Score Is good The aesthetic score is fair.');
    expect(appendScoreToPrompt('camera motion: static', { cameraMotion: 'pan left', flow: 0 })).toBe('camera motion: static The motion strength is very low.');
  });
  it('drops training score phrases with the given probability, reproducibly', () => {
    const runs = Array.from({ length: 400 }, (_, s) => score2text('a', 5, 5, { seed: s }));
    const kept = runs.join(' ').split('score is').length - 1;
    expect(kept / 400).toBeGreaterThan(0.72);
    expect(kept / 400).toBeLessThan(0.88);
    expect(score2text('a', 5, 5, { seed: 7 })).toBe(score2text('a', 5, 5, { seed: 7 }));
    expect(score2text('a', null, Number.NaN, { dropProb: 0 })).toBe('a.');
  });
});

describe('loop prompts', () => {
  it('splits, trims and merges', () => {
    const s = splitPrompt('|0| a sunny beach |3|rain');
    expect(s).toEqual({ texts: ['a sunny beach', 'rain'], loopIndices: [0, 3] });
    expect(mergePrompt(s.texts, s.loopIndices)).toBe('|0|a sunny beach|3|rain');
    expect(splitPrompt('no loop |0|')).toEqual({ texts: ['no loop |0|'], loopIndices: null });
    expect(promptForLoop('|0|a|2|b', 1)).toBe('a');
    expect(promptForLoop('|0|a|2|b', 5)).toBe('b');
  });
  it('names a malformed loop prompt', () => {
    expect(() => splitPrompt('|0|a|x|b')).toThrow(/not an integer/);
    expect(() => splitPrompt('|0|a|2')).toThrow(/no text after it/);
  });
});

describe('cleaning on unseen prompts', () => {
  it('applies each behaviour generally', () => {
    expect(textPreprocessing('A RED Circle moves LEFT')).toBe('a red circle moves left');
    expect(cleanCaption('see http://foo.net/a/b now')).toBe('see now');
    expect(cleanCaption('tag @someone_1 here')).toBe('tag here');
    expect(cleanCaption('漢字 and words')).toBe('and words');
    expect(cleanCaption('a—b')).toBe('a-b');
    expect(cleanCaption('"quoted caption"')).toBe('quoted caption');
    expect(cleanCaption('size 800x600 photo')).toBe('size photo');
    expect(cleanCaption('this_is_my_cute_cat')).toBe('this is my cute cat');
    expect(cleanCaption('x&nbsp;y')).toBe('x\u00a0y'.replace(/\u00a0/, ' '));
    expect(cleanCaption('100%25 sure')).toBe('100% sure');
    expect(cleanCaption('fish+chips')).toBe('fish chips');
    expect(cleanCaption('ﬁne ﬂowers')).toBe('fine flowers');
  });
  it('keeps the pipeline order: scores before cleaning, per loop segment', () => {
    const p = preparePrompt('|0|A <b>Bold</b> start|1|Then @me END', { aes: 7 });
    expect(p.afterScores).toEqual(['A <b>Bold</b> start The aesthetic score is excellent.', 'Then @me END The aesthetic score is excellent.']);
    expect(p.final).toBe('|0|a bold start the aesthetic score is excellent.|1|then end the aesthetic score is excellent.');
  });
});
