// T5Tokenizer on T5 folders as published (spiece.model, no tokenizer.json) against the ids that
// transformers' AutoTokenizer gives (test/fixtures/spiece/expected.json, made by make_fixtures.py
// there), the handful of Rust-tokenizers behaviours the JS library lacks, and bad input.
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { T5Tokenizer } from './t5-tokenizer.js';
import { decodeSentencePieceModel } from './sentencepiece-model.js';
import { buildUnigramTokenizerJson } from './unigram-tokenizer.js';

const FIXTURES = join(import.meta.dirname, '..', 'test', 'fixtures', 'spiece');
interface Case {
  name: string;
  model: string;
  files: Record<string, unknown> | null;
  pad_id: number;
  strings: string[];
  max_lengths: number[];
  ids: number[][];
}
const expected = JSON.parse(readFileSync(join(FIXTURES, 'expected.json'), 'utf8')) as { cases: Case[] };

const tmp = mkdtempSync(join(tmpdir(), 't5-tokenizer-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
/** A fresh folder holding `files` (name -> bytes, or a value written as JSON). */
function makeFolder(files: Record<string, Uint8Array | unknown>): string {
  const dir = mkdtempSync(join(tmp, 'f'));
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content instanceof Uint8Array ? content : JSON.stringify(content));
  return dir;
}

const t5LikeModel = readFileSync(join(FIXTURES, 't5-like', 'spiece.model'));

describe('T5Tokenizer from spiece.model', () => {
  for (const c of expected.cases) {
    it(`gives transformers' ids: ${c.name}`, () => {
      let dir = join(FIXTURES, c.model);
      if (c.files) {
        dir = makeFolder(c.files);
        copyFileSync(join(FIXTURES, c.model, 'spiece.model'), join(dir, 'spiece.model'));
      }
      const tok = T5Tokenizer.fromFolder(dir);
      expect(tok.padId).toBe(c.pad_id);
      const got = c.strings.map((s, i) => tok.idsOf(s, c.max_lengths[i]));
      for (let i = 0; i < c.strings.length; i++) expect(got[i], JSON.stringify(c.strings[i])).toEqual(c.ids[i]);
    });
  }

  it('pads and masks a batch to max_length, keeping </s> when truncating', () => {
    const tok = T5Tokenizer.fromFolder(join(FIXTURES, 't5-like'));
    expect(tok.maxLength).toBe(512); // tokenizer_config.json's model_max_length
    const c = expected.cases[0]!;
    const texts = [c.strings[0]!, '', c.strings[19]!]; // short, empty, long
    const b = tok.batch(texts, 24);
    for (let r = 0; r < texts.length; r++) {
      const ids = tok.idsOf(texts[r]!, 24);
      expect(Array.from(b.ids.subarray(r * 24, r * 24 + ids.length))).toEqual(ids);
      expect(Array.from(b.ids.subarray(r * 24 + ids.length, (r + 1) * 24)).every((x) => x === tok.padId)).toBe(true);
      expect(Array.from(b.mask.subarray(r * 24, (r + 1) * 24))).toEqual(Array.from({ length: 24 }, (_, i) => (i < ids.length ? 1 : 0)));
      expect(ids.at(-1)).toBe(1);
    }
    expect(tok.idsOf(c.strings[19]!, 24)).toHaveLength(24);
  });

  it('prefers tokenizer.json when the folder has both', () => {
    const json = buildUnigramTokenizerJson(['red', 'circle']);
    const dir = makeFolder({ 'spiece.model': t5LikeModel, 'tokenizer.json': json });
    expect(T5Tokenizer.fromFolder(dir).idsOf('red circle', 8)).toEqual([3, 4, 1]);
  });
});

// Hand-made models: the cases where the JS library differs from Rust tokenizers, with the ids
// transformers 5.17 gave for the same ModelProto (built there with sentencepiece_model_pb2).
const NORMAL = 1;
const UNKNOWN = 2;
const CONTROL = 3;
const charsmap = decodeSentencePieceModel(t5LikeModel).normalizerSpec.precompiledCharsmap; // nmt_nfkc

function modelProto(pieces: [string, number, number][], opts: { modelType?: number; charsmap?: Uint8Array } = {}): Uint8Array {
  const w = new BinaryWriter();
  for (const [piece, score, type] of pieces) w.tag(1, WireType.LengthDelimited).fork().tag(1, WireType.LengthDelimited).string(piece).tag(2, WireType.Bit32).float(score).tag(3, WireType.Varint).int32(type).join();
  w.tag(2, WireType.LengthDelimited).fork().tag(3, WireType.Varint).int32(opts.modelType ?? 1).join();
  const cm = opts.charsmap ?? charsmap;
  w.tag(3, WireType.LengthDelimited).fork().tag(1, WireType.LengthDelimited).string(cm.length > 0 ? 'nmt_nfkc' : 'identity');
  if (cm.length > 0) w.tag(2, WireType.LengthDelimited).bytes(cm);
  w.join();
  return w.finish();
}
const SPECIALS: [string, number, number][] = [
  ['<pad>', 0, CONTROL],
  ['</s>', 0, CONTROL],
  ['<unk>', 0, UNKNOWN],
];

describe('T5Tokenizer follows Rust tokenizers where @huggingface/tokenizers does not', () => {
  it('scores a literal unknown piece with its own score', () => {
    const pieces: [string, number, number][] = [...SPECIALS, ['▁', -2, NORMAL], ...[...'<unk>a'].map((c): [string, number, number] => [c, -1, NORMAL])];
    const dir = makeFolder({ 'spiece.model': modelProto(pieces), 'tokenizer_config.json': { unk_token: '<unkx>', extra_ids: 0 } });
    const tok = T5Tokenizer.fromFolder(dir);
    expect(tok.idsOf('<unk>', 16)).toEqual([3, 2, 1]);
    expect(tok.idsOf('a<unk>', 16)).toEqual([3, 9, 2, 1]);
    expect(tok.idsOf('＜ｕｎｋ＞', 16)).toEqual([3, 2, 1]);
  });

  it('fuses unknown characters within a word only', () => {
    const pieces: [string, number, number][] = [...SPECIALS, ['a', -1, NORMAL], ['b', -1, NORMAL]]; // no "▁" piece
    const dir = makeFolder({ 'spiece.model': modelProto(pieces), 'tokenizer_config.json': { extra_ids: 2 } });
    const tok = T5Tokenizer.fromFolder(dir);
    expect(tok.idsOf('€ €', 16)).toEqual([2, 2, 1]);
    expect(tok.idsOf('a b', 16)).toEqual([2, 3, 2, 4, 1]);
    expect(tok.idsOf('a€ €b', 16)).toEqual([2, 3, 2, 2, 4, 1]);
    expect(tok.idsOf('€', 16)).toEqual([2, 1]);
  });
});

describe('T5Tokenizer.promptTokens', () => {
  it('counts the tokens before truncation and what max_length keeps', () => {
    const tok = T5Tokenizer.fromFolder(join(FIXTURES, 't5-like'));
    const long = expected.cases[0]!.strings[19]!;
    const all = tok.idsOf(long, 100000).length;
    expect(all).toBeGreaterThan(24);
    expect(tok.promptTokens(long, 24)).toEqual({ tokens: all, kept: 24, maxLength: 24, unknown: [] });
    expect(tok.promptTokens('', 24)).toEqual({ tokens: 1, kept: 1, maxLength: 24, unknown: [] });
  });

  it('names the words that become the unknown token, once each, in order', () => {
    const pieces: [string, number, number][] = [...SPECIALS, ['▁', -2, NORMAL], ['a', -1, NORMAL], ['b', -1, NORMAL]];
    const dir = makeFolder({ 'spiece.model': modelProto(pieces), 'tokenizer_config.json': { unk_token: '<unkx>', extra_ids: 0 } });
    const tok = T5Tokenizer.fromFolder(dir);
    expect(tok.unkId).toBe(2);
    expect(tok.promptTokens('a b€ zz a b€', 16)).toMatchObject({ unknown: ['b€', 'zz'] });
  });
});

describe('T5Tokenizer.fromFolder on bad input', () => {
  const load = (files: Record<string, unknown>) => {
    const dir = makeFolder(files);
    return { dir, run: () => T5Tokenizer.fromFolder(dir) };
  };

  it('a folder with neither tokenizer.json nor spiece.model', () => {
    const { dir, run } = load({ 'config.json': {} });
    expect(run).toThrow(dir);
    expect(run).toThrow(/neither tokenizer\.json nor spiece\.model.*Download spiece\.model/);
  });

  it('an empty spiece.model', () => {
    const { dir, run } = load({ 'spiece.model': new Uint8Array(0) });
    expect(run).toThrow(join(dir, 'spiece.model'));
    expect(run).toThrow(/the file is empty, not a SentencePiece model\. Download the spiece\.model/);
  });

  it('a truncated spiece.model', () => {
    for (const length of [1000, 5000, 100_000, t5LikeModel.length - 1]) {
      const { dir, run } = load({ 'spiece.model': t5LikeModel.subarray(0, length) });
      expect(run).toThrow(join(dir, 'spiece.model'));
      expect(run).toThrow(/not a SentencePiece model \(.*\); the file is truncated.* Download the spiece\.model/);
    }
  });

  it('random bytes', () => {
    let x = 7;
    const bytes = Uint8Array.from({ length: 4096 }, () => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0), x >>> 24));
    const { dir, run } = load({ 'spiece.model': bytes });
    expect(run).toThrow(join(dir, 'spiece.model'));
    expect(run).toThrow(/not a SentencePiece model/);
  });

  it('a protobuf that is not a ModelProto', () => {
    const other = new BinaryWriter().tag(1, WireType.Varint).int32(150).tag(2, WireType.LengthDelimited).string('hello').finish();
    const { dir, run } = load({ 'spiece.model': other });
    expect(run).toThrow(join(dir, 'spiece.model'));
    expect(run).toThrow(/not a SentencePiece model \(ModelProto: field 1 has wire type 0, expected 2\)/);
  });

  it('a ModelProto without pieces', () => {
    const { dir, run } = load({ 'spiece.model': modelProto([]) });
    expect(run).toThrow(join(dir, 'spiece.model'));
    expect(run).toThrow(/without SentencePiece pieces.*no vocabulary/);
  });

  it('a BPE model', () => {
    const { dir, run } = load({ 'spiece.model': modelProto([...SPECIALS, ['▁a', -1, NORMAL]], { modelType: 2 }) });
    expect(run).toThrow(join(dir, 'spiece.model'));
    expect(run).toThrow(/a SentencePiece BPE model; only Unigram models \(those of T5\) are supported/);
  });

  it('a damaged normalization charsmap', () => {
    const { dir, run } = load({ 'spiece.model': modelProto([...SPECIALS, ['▁a', -1, NORMAL]], { charsmap: Uint8Array.of(0xff, 0xff, 0, 0, 1, 2) }) });
    expect(run).toThrow(join(dir, 'spiece.model'));
    expect(run).toThrow(/precompiled_charsmap: trie of 65535 bytes runs past the end.*the file is damaged/);
  });

  it('sentinel pieces that disagree with extra_ids', () => {
    const pieces: [string, number, number][] = [...SPECIALS, ['<extra_id_0>', 0, CONTROL], ['▁a', -1, NORMAL]];
    const { run } = load({ 'spiece.model': modelProto(pieces), 'tokenizer_config.json': { extra_ids: 100 } });
    expect(run).toThrow(/1 <extra_id_N> pieces but tokenizer_config\.json says extra_ids 100.*Set extra_ids to 1/);
  });

  it('a tokenizer_config.json that is not JSON', () => {
    const { dir, run } = load({ 'spiece.model': t5LikeModel });
    writeFileSync(join(dir, 'tokenizer_config.json'), '{"extra_ids": 100,');
    expect(run).toThrow(`${join(dir, 'tokenizer_config.json')}: not valid JSON`);
  });
});
