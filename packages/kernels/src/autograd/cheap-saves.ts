// Saving tensors for the backward without a kernel call and a tape node each.
//
// While a tape records, tfjs saves each tensor a gradient will need through engine.clone: it runs the
// Identity kernel through runKernel and pushes an Identity tape node, so that a gradient taken through a
// saved copy (only possible when a gradient is taken inside the recorded function) reaches the
// original. In an STDiT3 step that is about a third of all kernel calls and tape nodes. Here, for the
// length of one forward, engine.clone makes the same tensor (same backend Identity kernel, same data,
// same id order) without runKernel's bookkeeping, and only remembers where the Identity node would
// have gone. Those nodes are put on the tape, in place and as tfjs builds them, before a gradient nested in
// the forward starts (a gradient inside the forward is the only code that runs gradient functions, the
// only readers of saved tensors; tfjs's clone is used for the rest of that forward). Otherwise the
// nodes are off every path from a variable to the loss and the backward would prune them anyway.
//
// The engine gets its two hooks (clone, startTape) once, as own methods that are tfjs's own whenever
// no such forward runs. Adding and removing them around each forward would change the engine's hidden
// class every step, which costs more than the Identity calls save (V8 drops optimized code that relied
// on it: measured slower on STDiT3-tiny and -mid).
import type { tf } from '../tf.js';

type Tensor = tf.Tensor;

interface TapeNode {
  id: number;
  inputs: Record<string, Tensor>;
}

/** The engine internals this uses; cheapSavesUnsupported says when they are missing. */
export interface SaveEngine {
  state: { activeTape: TapeNode[] | null; activeScope: { name: string } | null; profiling: boolean; nextTapeNodeId: number };
  backendName: string | null;
  backend: unknown;
  ENV: { getBool(flag: string): boolean };
  clone(x: Tensor): Tensor;
  startTape(): void;
  addTapeNode(name: string, inputs: Record<string, Tensor>, outputs: Tensor[], grad: (dy: Tensor) => Record<string, () => Tensor>, saved: Tensor[], attrs: object): void;
  makeTensorFromTensorInfo(info: tf.TensorInfo): Tensor;
  runKernel(name: string, inputs: Record<string, Tensor>, attrs?: object): Tensor;
}

type KernelFunc = (args: { inputs: Record<string, Tensor>; backend: unknown; attrs: object }) => tf.TensorInfo | Tensor;
type GetKernel = (name: string, backend: string) => { kernelFunc: unknown } | undefined;

/** Why these internals are missing (null when present). */
export function cheapSavesUnsupported(e: Partial<SaveEngine>): string | null {
  for (const m of ['clone', 'startTape', 'addTapeNode', 'makeTensorFromTensorInfo', 'runKernel'] as const) {
    if (typeof e[m] !== 'function') return `tfjs engine has no ${m}()`;
  }
  if (e.state == null || typeof e.state.nextTapeNodeId !== 'number') return 'tfjs engine.state has no nextTapeNodeId';
  if (e.ENV == null || typeof e.ENV.getBool !== 'function') return 'tfjs engine has no ENV';
  return null;
}

/** A copy made here: where tfjs's Identity node would be on the tape, and what it would hold. */
interface Pending {
  at: number;
  scope: string;
  x: Tensor;
  y: Tensor;
}

/** One forward that saves cheaply. */
class Session {
  private readonly pending: Pending[] = [];
  private identity: KernelFunc | undefined;
  private identityBackend: string | null = null;

  constructor(
    readonly engine: SaveEngine,
    private readonly getKernel: GetKernel,
  ) {}

  /** engine.clone's tensor, or undefined where tfjs's clone must run (profiling and debug logging list its kernel). */
  clone(x: Tensor): Tensor | undefined {
    const e = this.engine;
    if (e.state.profiling || e.state.activeTape == null || e.ENV.getBool('DEBUG')) return undefined;
    if (this.identity === undefined || this.identityBackend !== e.backendName) {
      void e.backend; // tfjs's runKernel starts a lazily chosen backend this way
      this.identityBackend = e.backendName;
      this.identity = this.identityBackend == null ? undefined : (this.getKernel('Identity', this.identityBackend)?.kernelFunc as KernelFunc | undefined);
      if (this.identity === undefined) return undefined; // tfjs's clone says why
    }
    const out = this.identity({ inputs: { x }, backend: e.backend, attrs: {} });
    const y = (out as Tensor).rank != null ? (out as Tensor) : e.makeTensorFromTensorInfo(out as tf.TensorInfo);
    this.pending.push({ at: e.state.activeTape.length, scope: e.state.activeScope!.name, x, y });
    return y;
  }

  /** Puts the Identity nodes where tfjs put them, each built by the engine's own addTapeNode. */
  materialize(): void {
    const e = this.engine;
    const tape = e.state.activeTape;
    if (this.pending.length === 0 || tape == null) return;
    const merged: TapeNode[] = [];
    e.state.activeTape = merged;
    let next = 0;
    for (let i = 0; i <= tape.length; i++) {
      while (next < this.pending.length && this.pending[next]!.at === i) {
        const p = this.pending[next++]!;
        e.addTapeNode(p.scope, { x: p.x }, [p.y], (dy: Tensor) => ({ x: () => e.runKernel('Cast', { x: dy }, { dtype: 'float32' }) }), [], {});
      }
      if (i < tape.length) merged.push(tape[i]!);
    }
    this.pending.length = 0;
  }
}

/** The forward saving cheaply now, if any. */
let active: Session | null = null;
const hooked = new WeakSet<object>();

/** Gives the engine its clone and startTape hooks (once): tfjs's methods unless a cheap-saving forward runs. */
function hook(e: SaveEngine): void {
  if (hooked.has(e)) return;
  hooked.add(e);
  // A method the engine already had of its own stays what the hooks fall back to; else the prototype's, looked up per call.
  const ownClone = Object.getOwnPropertyDescriptor(e, 'clone')?.value as SaveEngine['clone'] | undefined;
  const ownStartTape = Object.getOwnPropertyDescriptor(e, 'startTape')?.value as SaveEngine['startTape'] | undefined;
  const proto = Object.getPrototypeOf(e) as SaveEngine;
  const define = (name: 'clone' | 'startTape', value: unknown) => Object.defineProperty(e, name, { value, writable: true, configurable: true, enumerable: false });
  define('clone', function clone(this: SaveEngine, x: Tensor): Tensor {
    const s = active;
    const y = s !== null && s.engine === this ? s.clone(x) : undefined;
    return y ?? (ownClone ?? proto.clone).call(this, x);
  });
  // A gradient taken inside the forward filters the tape: it must see tfjs's tape from then on.
  define('startTape', function startTape(this: SaveEngine): void {
    const s = active;
    if (s !== null && s.engine === this) {
      active = null;
      s.materialize();
    }
    return (ownStartTape ?? proto.startTape).call(this);
  });
}

/** Runs `forward` (recording on the engine's active tape) with cheap saves; on a throw too, they end with it. */
export function withCheapSaves<T>(e: SaveEngine, getKernel: GetKernel, forward: () => T): T {
  hook(e);
  const outer = active;
  active = new Session(e, getKernel);
  try {
    return forward();
  } finally {
    // Without a nested gradient nothing reads the copies as node inputs: the Identity nodes would be off
    // every path from a variable to the loss, and the backward prunes them.
    active = outer;
  }
}
