// Reference-fixture cases (the format of shared/fixtures/opensora13/README.md): loading a case
// folder and comparing outputs under its tolerance. Packages expose a `parity` subpath with
// runners per `kind`; their tests and `pnpm parity` share this code.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readSafetensors, type HostTensor } from './safetensors.js';

export interface ParityTolerance {
  rel_l2?: number;
  max_abs?: number;
  exact?: boolean;
}

export interface ParityCaseJson {
  kind: string;
  description?: string;
  config?: Record<string, unknown>;
  call?: Record<string, unknown>;
  weights?: string;
  weights_prefix?: string;
  inputs?: string;
  expected?: string;
  tolerance: ParityTolerance;
  [key: string]: unknown;
}

export interface ParityCase {
  dir: string;
  name: string;
  json: ParityCaseJson;
  /** Absolute path of the weights file, when the case has one. */
  weightsPath?: string;
  inputs: Map<string, HostTensor>;
  expected: Map<string, HostTensor>;
  /** Parsed `call.data_file` (or data.json) for string/value cases. */
  data?: unknown;
}

export interface ParityTensor {
  shape: number[];
  data: ArrayLike<number>;
}

export interface ParityOutput {
  /** Compared against expected.safetensors; every expected tensor must be present. */
  tensors?: Map<string, ParityTensor>;
  /** Exact comparisons (strings, ids, shapes) for cases with `tolerance.exact`. */
  exact?: { name: string; got: unknown; expected: unknown }[];
}

export type ParityRunner = (c: ParityCase) => Promise<ParityOutput>;

export interface ParityComparison {
  name: string;
  pass: boolean;
  relL2: number;
  maxAbs: number;
  detail?: string;
}

export interface ParityReport {
  name: string;
  kind: string;
  pass: boolean;
  worstRelL2: number;
  worstMaxAbs: number;
  comparisons: ParityComparison[];
}

export function loadParityCase(dir: string): ParityCase {
  const abs = resolve(dir);
  const file = join(abs, 'case.json');
  if (!existsSync(file)) throw new Error(`${abs}: no case.json; a parity case folder holds case.json (+ inputs/expected safetensors).`);
  const json = JSON.parse(readFileSync(file, 'utf8')) as ParityCaseJson;
  if (typeof json.kind !== 'string') throw new Error(`${file}: missing 'kind'.`);
  const opt = (name: string | undefined) => (name ? join(abs, name) : undefined);
  const inputsPath = opt(json.inputs);
  const expectedPath = opt(json.expected);
  const dataName = (json.call?.data_file as string | undefined) ?? (existsSync(join(abs, 'data.json')) ? 'data.json' : undefined);
  return {
    dir: abs,
    name: abs.split('/').filter(Boolean).pop()!,
    json,
    weightsPath: opt(json.weights),
    inputs: inputsPath ? readSafetensors(inputsPath) : new Map(),
    expected: expectedPath ? readSafetensors(expectedPath) : new Map(),
    data: dataName ? JSON.parse(readFileSync(join(abs, dataName), 'utf8')) : undefined,
  };
}

/** rel_l2 = ||got - exp||_2 / ||exp||_2 and max_abs = max |got - exp|, in float64. */
export function tensorDistance(got: ArrayLike<number>, expected: ArrayLike<number>): { relL2: number; maxAbs: number } {
  let num = 0;
  let den = 0;
  let maxAbs = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    const d = got[i]! - e;
    num += d * d;
    den += e * e;
    const a = Math.abs(d);
    if (a > maxAbs || Number.isNaN(a)) maxAbs = Number.isNaN(a) ? Infinity : a;
  }
  const relL2 = den === 0 ? (num === 0 ? 0 : Infinity) : Math.sqrt(num) / Math.sqrt(den);
  return { relL2: Number.isNaN(relL2) ? Infinity : relL2, maxAbs };
}

function deepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Compares a runner's output with the case's expectations under its tolerance. */
export function compareParityOutput(c: ParityCase, out: ParityOutput): ParityReport {
  const tol = c.json.tolerance ?? {};
  const comparisons: ParityComparison[] = [];
  for (const [name, exp] of c.expected) {
    const got = out.tensors?.get(name);
    if (!got) {
      comparisons.push({ name, pass: false, relL2: Infinity, maxAbs: Infinity, detail: 'not produced' });
      continue;
    }
    const sameShape = got.shape.length === exp.shape.length && got.shape.every((v, i) => v === exp.shape[i]);
    if (!sameShape) {
      comparisons.push({ name, pass: false, relL2: Infinity, maxAbs: Infinity, detail: `shape [${got.shape}], expected [${exp.shape}]` });
      continue;
    }
    const { relL2, maxAbs } = tensorDistance(got.data, exp.data);
    const pass = tol.exact ? maxAbs === 0 : relL2 <= (tol.rel_l2 ?? 0) && maxAbs <= (tol.max_abs ?? Infinity);
    comparisons.push({ name, pass, relL2, maxAbs });
  }
  for (const e of out.exact ?? []) {
    const pass = deepEqual(e.got, e.expected);
    comparisons.push({
      name: e.name,
      pass,
      relL2: pass ? 0 : 1,
      maxAbs: pass ? 0 : 1,
      detail: pass ? undefined : `got ${JSON.stringify(e.got)}, expected ${JSON.stringify(e.expected)}`,
    });
  }
  if (comparisons.length === 0) comparisons.push({ name: '(nothing compared)', pass: false, relL2: Infinity, maxAbs: Infinity, detail: 'the runner produced no output' });
  return {
    name: c.name,
    kind: c.json.kind,
    pass: comparisons.every((x) => x.pass),
    worstRelL2: Math.max(...comparisons.map((x) => x.relL2)),
    worstMaxAbs: Math.max(...comparisons.map((x) => x.maxAbs)),
    comparisons,
  };
}
