// Reads a SentencePiece model file (spiece.model): a protobuf `sentencepiece.ModelProto`
// (https://github.com/google/sentencepiece/blob/master/src/sentencepiece_model.proto). Only the
// fields a tokenizer needs are kept: the pieces (text, score, type), the trainer's model type and
// special ids, and the normalizer spec with its precompiled charsmap. The wire format is read
// with @bufbuild/protobuf's BinaryReader; this file only maps field numbers to fields and checks
// that what was read is a usable Unigram model.
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import { PrecompiledCharsmap } from './sentencepiece-charsmap.js';

/** `ModelProto.SentencePiece.Type`. */
export const PieceType = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;
/** `TrainerSpec.ModelType`. */
export const ModelType = { UNIGRAM: 1, BPE: 2, WORD: 3, CHAR: 4 } as const;
const MODEL_TYPE_NAMES: Record<number, string> = { 1: 'Unigram', 2: 'BPE', 3: 'word', 4: 'char' };

export interface SentencePiece {
  piece: string;
  /** float32 score, widened exactly to a double (as protobuf and Python read it). */
  score: number;
  type: number;
}

export interface SentencePieceModel {
  pieces: SentencePiece[];
  trainerSpec: {
    modelType: number;
    vocabSize?: number;
    unkId: number;
    bosId: number;
    eosId: number;
    padId: number;
    unkPiece: string;
    bosPiece: string;
    eosPiece: string;
    padPiece: string;
    byteFallback: boolean;
  };
  normalizerSpec: {
    name: string;
    /** Empty when the model was trained with the `identity` rule (no normalization). */
    precompiledCharsmap: Uint8Array;
    addDummyPrefix: boolean;
    removeExtraWhitespaces: boolean;
    escapeWhitespaces: boolean;
  };
}

class ModelFormatError extends Error {}

/**
 * Decodes spiece.model bytes. Throws one error naming `source` when the bytes are not a
 * SentencePiece ModelProto, have no pieces, or hold a model type other than Unigram.
 */
export function decodeSentencePieceModel(bytes: Uint8Array, source = 'spiece.model'): SentencePieceModel {
  const fix = 'Download the spiece.model of the model again (it is a SentencePiece Unigram model, a few hundred KB to a few MB), or put a Hugging Face tokenizer.json next to it.';
  if (bytes.length === 0) throw new Error(`${source}: the file is empty, not a SentencePiece model. ${fix}`);
  let model: SentencePieceModel;
  let seen: Set<number>;
  try {
    ({ model, seen } = readModelProto(bytes));
  } catch (err) {
    const why = err instanceof ModelFormatError ? err.message : `protobuf decoding failed: ${(err as Error).message}`;
    throw new Error(`${source}: not a SentencePiece model (${why}); the file is truncated, corrupt or of another kind. ${fix}`);
  }
  if (model.pieces.length === 0) throw new Error(`${source}: a protobuf without SentencePiece pieces (no ModelProto.pieces), so there is no vocabulary; it is not a SentencePiece model or it is damaged. ${fix}`);
  if (model.trainerSpec.modelType !== ModelType.UNIGRAM) {
    const kind = MODEL_TYPE_NAMES[model.trainerSpec.modelType] ?? `unknown type ${model.trainerSpec.modelType}`;
    throw new Error(`${source}: a SentencePiece ${kind} model; only Unigram models (those of T5) are supported. Use the T5 checkpoint's own spiece.model, or a tokenizer.json for this tokenizer.`);
  }
  // SentencePiece writes the pieces first, then trainer_spec and normalizer_spec: a file cut
  // between two pieces still decodes, but without them.
  if (!seen.has(2) || !seen.has(3)) throw new Error(`${source}: not a SentencePiece model (${model.pieces.length} pieces but no ${seen.has(2) ? '' : 'trainer_spec and no '}normalizer_spec after them); the file is truncated. ${fix}`);
  const charsmap = model.normalizerSpec.precompiledCharsmap;
  if (charsmap.length > 0) {
    try {
      new PrecompiledCharsmap(charsmap);
    } catch (err) {
      throw new Error(`${source}: the normalizer's ${(err as Error).message}; the file is damaged. ${fix}`);
    }
  }
  return model;
}

function readModelProto(bytes: Uint8Array): { model: SentencePieceModel; seen: Set<number> } {
  const model: SentencePieceModel = {
    pieces: [],
    trainerSpec: { modelType: ModelType.UNIGRAM, unkId: 0, bosId: 1, eosId: 2, padId: -1, unkPiece: '<unk>', bosPiece: '<s>', eosPiece: '</s>', padPiece: '<pad>', byteFallback: false },
    normalizerSpec: { name: '', precompiledCharsmap: new Uint8Array(0), addDummyPrefix: true, removeExtraWhitespaces: true, escapeWhitespaces: true },
  };
  const seen = new Set<number>();
  readFields(bytes, 'ModelProto', (field, r) => {
    seen.add(field);
    if (field === 1) model.pieces.push(readPiece(r.bytes(), model.pieces.length));
    else if (field === 2) readTrainerSpec(r.bytes(), model.trainerSpec);
    else if (field === 3) readNormalizerSpec(r.bytes(), model.normalizerSpec);
    else return false;
    return true;
  }, { 1: WireType.LengthDelimited, 2: WireType.LengthDelimited, 3: WireType.LengthDelimited, 4: WireType.LengthDelimited, 5: WireType.LengthDelimited });
  return { model, seen };
}

function readPiece(bytes: Uint8Array, index: number): SentencePiece {
  const p: SentencePiece = { piece: '', score: 0, type: PieceType.NORMAL };
  let hasPiece = false;
  readFields(bytes, `piece ${index}`, (field, r) => {
    if (field === 1) { p.piece = r.string(true); hasPiece = true; }
    else if (field === 2) p.score = r.float();
    else if (field === 3) p.type = r.int32();
    else return false;
    return true;
  }, { 1: WireType.LengthDelimited, 2: WireType.Bit32, 3: WireType.Varint });
  if (!hasPiece || p.piece === '') throw new ModelFormatError(`piece ${index} has no text`);
  if (!Number.isFinite(p.score)) throw new ModelFormatError(`piece ${index} (${JSON.stringify(p.piece)}) has score ${p.score}`);
  if (!Object.values(PieceType).includes(p.type as never)) throw new ModelFormatError(`piece ${index} (${JSON.stringify(p.piece)}) has unknown type ${p.type}`);
  return p;
}

function readTrainerSpec(bytes: Uint8Array, spec: SentencePieceModel['trainerSpec']): void {
  const wire: Record<number, WireType> = { 3: WireType.Varint, 4: WireType.Varint, 35: WireType.Varint, 40: WireType.Varint, 41: WireType.Varint, 42: WireType.Varint, 43: WireType.Varint, 45: WireType.LengthDelimited, 46: WireType.LengthDelimited, 47: WireType.LengthDelimited, 48: WireType.LengthDelimited };
  readFields(bytes, 'trainer_spec', (field, r) => {
    switch (field) {
      case 3: spec.modelType = r.int32(); break;
      case 4: spec.vocabSize = r.int32(); break;
      case 35: spec.byteFallback = r.bool(); break;
      case 40: spec.unkId = r.int32(); break;
      case 41: spec.bosId = r.int32(); break;
      case 42: spec.eosId = r.int32(); break;
      case 43: spec.padId = r.int32(); break;
      case 45: spec.unkPiece = r.string(true); break;
      case 46: spec.bosPiece = r.string(true); break;
      case 47: spec.eosPiece = r.string(true); break;
      case 48: spec.padPiece = r.string(true); break;
      default: return false;
    }
    return true;
  }, wire);
}

function readNormalizerSpec(bytes: Uint8Array, spec: SentencePieceModel['normalizerSpec']): void {
  readFields(bytes, 'normalizer_spec', (field, r) => {
    switch (field) {
      case 1: spec.name = r.string(true); break;
      case 2: spec.precompiledCharsmap = r.bytes().slice(); break;
      case 3: spec.addDummyPrefix = r.bool(); break;
      case 4: spec.removeExtraWhitespaces = r.bool(); break;
      case 5: spec.escapeWhitespaces = r.bool(); break;
      default: return false;
    }
    return true;
  }, { 1: WireType.LengthDelimited, 2: WireType.LengthDelimited, 3: WireType.Varint, 4: WireType.Varint, 5: WireType.Varint });
}

/**
 * Walks the fields of one message. `wire` gives the wire type each known field must have (a
 * mismatch means the bytes are some other message); `read` consumes known fields and returns
 * false for the ones it ignores, which are skipped.
 */
function readFields(bytes: Uint8Array, what: string, read: (field: number, r: BinaryReader) => boolean, wire: Record<number, WireType>): void {
  const r = new BinaryReader(bytes);
  while (r.pos < r.len) {
    const [field, type] = r.tag();
    const expected = wire[field];
    if (expected !== undefined && expected !== type) throw new ModelFormatError(`${what}: field ${field} has wire type ${type}, expected ${expected}`);
    if (expected === undefined || !read(field, r)) r.skip(type, field);
  }
  if (r.pos !== r.len) throw new ModelFormatError(`${what}: premature end of data`);
}
