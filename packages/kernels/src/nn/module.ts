// A Module holds named parameters, buffers and children; its stateDict() keys are PyTorch's
// (`blocks.3.attn.qkv.weight`) and its values are in PyTorch layout, so official checkpoints
// load without a renaming table. A parameter may keep a different layout for compute (NDHWC
// conv filters); `toLocal`/`toTorch` convert once, at load and at save.
import { tf } from '../tf.js';
import type { HostTensor } from '../safetensors.js';

export interface ParameterOptions {
  /** PyTorch layout -> compute layout, applied once at load. */
  toLocal?: (t: tf.Tensor) => tf.Tensor;
  /** Compute layout -> PyTorch layout, for stateDict(). */
  toTorch?: (t: tf.Tensor) => tf.Tensor;
  /** False for constants that PyTorch keeps as parameters with requires_grad=False (e.g. rope.freqs). */
  trainable?: boolean;
}

export class Parameter {
  /** Null only for modules built under `withShapesOnly` (shapes without memory). */
  variable: tf.Variable | null;
  readonly torchShape: number[];
  readonly options: ParameterOptions;
  trainable: boolean;
  constructor(variable: tf.Variable | null, torchShape: number[], options: ParameterOptions) {
    this.variable = variable;
    this.torchShape = torchShape;
    this.options = options;
    this.trainable = options.trainable ?? true;
  }
  /** Starts or stops gradient updates of this parameter (its flag and its variable's, kept together). */
  setTrainable(trainable: boolean): void {
    this.trainable = trainable;
    if (this.variable) this.variable.trainable = trainable;
  }
  get value(): tf.Variable {
    if (!this.variable) throw new Error('parameter has no storage: the module was built with withShapesOnly()');
    return this.variable;
  }
  get size(): number {
    return this.torchShape.reduce((a, b) => a * b, 1);
  }
}

export interface BufferEntry {
  tensor: tf.Tensor | null;
  torchShape: number[];
  /** Persistent buffers appear in the state dict (PyTorch's register_buffer default). */
  persistent: boolean;
}

/** What loadStateDict found: keys it could not fill, keys it did not know, and shape clashes. */
export interface LoadReport {
  missing: string[];
  unexpected: string[];
  mismatched: { key: string; expected: number[]; found: number[] }[];
  /** PyTorch shape of every missing key. */
  expectedShapes: Record<string, number[]>;
  loaded: number;
}

export type StateDictValue = tf.Tensor | HostTensor;
export type StateDictInput = Map<string, StateDictValue> | Record<string, StateDictValue>;

export interface LoadOptions {
  /** Throw when anything is missing, unexpected or misshaped (default true). */
  strict?: boolean;
  /** Names the checkpoint in error messages (a file path). */
  source?: string;
}

export class StateDictError extends Error {
  override name = 'StateDictError';
  readonly report: LoadReport;
  constructor(message: string, report: LoadReport) {
    super(message);
    this.report = report;
  }
}

let shapesOnly = 0;

/** Builds modules that record parameter shapes but allocate nothing (parameter counts of huge presets). */
export function withShapesOnly<T>(build: () => T): T {
  shapesOnly++;
  try {
    return build();
  } finally {
    shapesOnly--;
  }
}

const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((v, i) => v === b[i]);

export abstract class Module {
  training = false;
  private readonly _params = new Map<string, Parameter>();
  private readonly _buffers = new Map<string, BufferEntry>();
  private readonly _children = new Map<string, Module>();

  /** Registers a parameter. `init` returns the value in compute layout; it is not called under withShapesOnly. */
  protected registerParameter(name: string, torchShape: number[], init: () => tf.Tensor, options: ParameterOptions = {}): Parameter {
    let variable: tf.Variable | null = null;
    if (!shapesOnly) {
      // The variable shares the initial tensor's data; dispose the handle so nothing is orphaned.
      const initial = init();
      variable = tf.variable(initial, options.trainable ?? true, undefined, 'float32');
      initial.dispose();
    }
    const p = new Parameter(variable, torchShape, options);
    this._params.set(name, p);
    return p;
  }

  protected registerBuffer(name: string, torchShape: number[], init: () => tf.Tensor, persistent = true): BufferEntry {
    const b: BufferEntry = { tensor: shapesOnly ? null : tf.keep(init()), torchShape, persistent };
    this._buffers.set(name, b);
    return b;
  }

  protected registerModule<M extends Module>(name: string, module: M): M {
    this._children.set(name, module);
    return module;
  }

  /** A child by name, as in PyTorch's `getattr`/`ModuleList[i]`. */
  child(name: string): Module | undefined {
    return this._children.get(name);
  }

  *namedChildren(): Generator<[string, Module]> {
    yield* this._children;
  }

  *namedParameters(prefix = ''): Generator<[string, Parameter]> {
    for (const [n, p] of this._params) yield [prefix + n, p];
    for (const [n, c] of this._children) yield* c.namedParameters(`${prefix}${n}.`);
  }

  *namedBuffers(prefix = ''): Generator<[string, BufferEntry]> {
    for (const [n, b] of this._buffers) yield [prefix + n, b];
    for (const [n, c] of this._children) yield* c.namedBuffers(`${prefix}${n}.`);
  }

  /** Trainable variables, for optimizers and tf.variableGrads. */
  trainableVariables(): tf.Variable[] {
    return [...this.namedParameters()].filter(([, p]) => p.trainable && p.variable).map(([, p]) => p.variable!);
  }

  /** Element count of parameters (and persistent buffers when asked), in PyTorch's numbers. */
  parameterCount(options: { trainableOnly?: boolean; includeBuffers?: boolean } = {}): number {
    let n = 0;
    for (const [, p] of this.namedParameters()) if (!options.trainableOnly || p.trainable) n += p.size;
    if (options.includeBuffers) for (const [, b] of this.namedBuffers()) if (b.persistent) n += b.torchShape.reduce((a, c) => a * c, 1);
    return n;
  }

  /** Keys and PyTorch shapes of the state dict, in registration order; allocates nothing. */
  stateDictShapes(): Map<string, number[]> {
    const out = new Map<string, number[]>();
    for (const [k, p] of this.namedParameters()) out.set(k, p.torchShape);
    for (const [k, b] of this.namedBuffers()) if (b.persistent) out.set(k, b.torchShape);
    return out;
  }

  /** The state dict in PyTorch layout. The caller owns (and disposes) the returned tensors. */
  stateDict(): Map<string, tf.Tensor> {
    const out = new Map<string, tf.Tensor>();
    for (const [k, p] of this.namedParameters()) {
      const v = p.value;
      out.set(k, tf.tidy(() => (p.options.toTorch ? p.options.toTorch(v) : v.clone())));
    }
    for (const [k, b] of this.namedBuffers()) if (b.persistent && b.tensor) out.set(k, b.tensor.clone());
    return out;
  }

  /** Loads PyTorch-layout tensors by key; lists every missing, unexpected and misshaped key. */
  loadStateDict(input: StateDictInput, options: LoadOptions = {}): LoadReport {
    const strict = options.strict ?? true;
    const sd = input instanceof Map ? input : new Map(Object.entries(input));
    const report: LoadReport = { missing: [], unexpected: [], mismatched: [], expectedShapes: {}, loaded: 0 };
    const targets = new Map<string, { shape: number[]; set: (t: tf.Tensor) => void }>();
    for (const [k, p] of this.namedParameters()) {
      targets.set(k, {
        shape: p.torchShape,
        set: (t) => {
          const local = tf.tidy(() => (p.options.toLocal ? p.options.toLocal(t) : t.clone()));
          if (p.variable) p.variable.assign(local);
          else p.variable = tf.variable(local, p.trainable);
          local.dispose();
        },
      });
    }
    for (const [k, b] of this.namedBuffers()) {
      if (!b.persistent) continue;
      targets.set(k, {
        shape: b.torchShape,
        set: (t) => {
          b.tensor?.dispose();
          b.tensor = tf.keep(t.clone());
        },
      });
    }
    for (const k of sd.keys()) if (!targets.has(k)) report.unexpected.push(k);
    for (const [k, target] of targets) {
      const v = sd.get(k);
      if (v === undefined) {
        report.missing.push(k);
        report.expectedShapes[k] = target.shape;
        continue;
      }
      if (!sameShape(v.shape, target.shape)) {
        report.mismatched.push({ key: k, expected: target.shape, found: [...v.shape] });
        continue;
      }
    }
    if (strict && (report.missing.length || report.unexpected.length || report.mismatched.length)) {
      throw new StateDictError(formatLoadReport(report, options.source), report);
    }
    const bad = new Set(report.mismatched.map((m) => m.key));
    for (const [k, target] of targets) {
      const v = sd.get(k);
      if (v === undefined || bad.has(k)) continue;
      const t = v instanceof tf.Tensor ? v : tf.tensor(v.data, v.shape, v.dtype === 'bool' ? 'bool' : v.dtype);
      const f = t.dtype === 'float32' ? t : tf.cast(t, 'float32');
      target.set(f);
      if (f !== t) f.dispose();
      if (t !== v) t.dispose();
      report.loaded++;
    }
    return report;
  }

  /** Training mode for this module and its children (dropout, class dropout). */
  train(mode = true): this {
    this.training = mode;
    for (const [, c] of this._children) c.train(mode);
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Stops (or restarts) gradient updates of every parameter below this module. */
  setTrainable(trainable: boolean): this {
    for (const [, p] of this.namedParameters()) {
      if (p.options.trainable === false) continue;
      p.setTrainable(trainable);
    }
    return this;
  }

  freeze(): this {
    return this.setTrainable(false);
  }

  unfreeze(): this {
    return this.setTrainable(true);
  }

  dispose(): void {
    for (const [, p] of this._params) p.variable?.dispose();
    for (const [, b] of this._buffers) b.tensor?.dispose();
    for (const [, c] of this._children) c.dispose();
  }
}

/** An ordered list of modules named 0..n-1, as PyTorch's nn.ModuleList. */
export class ModuleList<M extends Module = Module> extends Module {
  readonly items: M[];
  constructor(items: M[]) {
    super();
    this.items = items;
    items.forEach((m, i) => this.registerModule(String(i), m));
  }
  get length(): number {
    return this.items.length;
  }
  at(i: number): M {
    const m = this.items[i];
    if (!m) throw new RangeError(`ModuleList index ${i} out of range (length ${this.items.length})`);
    return m;
  }
}

/** The advice at the end of a load report: words a command-line user can act on (no API options). */
export const LOAD_REPORT_HINT = 'Check that the checkpoint is the one the model config describes (its type and sizes, e.g. depth, hidden_size, in_channels), and that the file is the model and not another part.';

/**
 * One message listing every problem, e.g. `weights.safetensors: missing key 'final_layer.linear.weight' (expected [128,1152])`,
 * ending with `hint` (default LOAD_REPORT_HINT; '' for none).
 */
export function formatLoadReport(r: LoadReport, source = 'state dict', hint = LOAD_REPORT_HINT): string {
  const lines: string[] = [];
  for (const k of r.missing) lines.push(`missing key '${k}' (expected [${r.expectedShapes[k] ?? '?'}])`);
  for (const m of r.mismatched) lines.push(`key '${m.key}' has shape [${m.found}], expected [${m.expected}]`);
  for (const k of r.unexpected) lines.push(`unexpected key '${k}'`);
  const head = `${source}: ${r.missing.length} missing, ${r.unexpected.length} unexpected, ${r.mismatched.length} misshaped keys`;
  const shown = lines.slice(0, 40);
  const more = lines.length > shown.length ? `\n  ... and ${lines.length - shown.length} more` : '';
  return `${head}\n  ${shown.join('\n  ')}${more}${hint ? `\n  ${hint}` : ''}`;
}
