// A backward pass that frees as it goes.
//
// tfjs-core's engine.gradients keeps every gradient it makes, and every tensor the tape saved for the
// backward, until the whole backward has run; at the end of a DiT training step that is most of the
// process's memory. This walks the same tape in the same order, runs the same gradient functions and
// accumulates with the same adds in the same order (so the results are the same bits), but disposes
//   - each accumulated gradient once no node left to run can read or add to it, and
//   - each node's saved tensors once that node's gradient has run,
// which is what PyTorch's autograd does.
//
// It uses engine internals (state.activeTape, state.gradientDepth, scopedRun, startTape/endTape, tidy,
// and the tape nodes' inputs/outputs/gradient/saved). They are checked before each use; when they are
// not as expected, or when gradients are nested (a gradient taken inside another's f), it falls back to
// tfjs's own variableGrads, and says so once.
import { tf } from '../tf.js';
import { cheapSavesUnsupported, withCheapSaves, type SaveEngine } from './cheap-saves.js';

type Tensor = tf.Tensor;

interface TapeNode {
  id: number;
  kernelName: string;
  inputs: Record<string, Tensor>;
  outputs: Tensor[];
  gradient?: (dys: (Tensor | null)[]) => Record<string, () => Tensor>;
  saved?: Tensor[];
}

interface EngineInternals {
  state: { activeTape: TapeNode[] | null; gradientDepth: number };
  registeredVariables: Record<string, tf.Variable>;
  scopedRun<T>(start: () => void, end: () => void, f: () => T): T;
  startTape(): void;
  endTape(): void;
  tidy<T>(nameOrFn: string | (() => T), fn?: () => T): T;
}

let warned = false;
function warnOnce(why: string): void {
  if (warned) return;
  warned = true;
  process.emitWarning(`freeingVariableGrads: ${why}; using tf.variableGrads (gradients are the same, the backward holds more memory)`);
}

/** The engine's internals this relies on, or why they are not usable. */
function engineInternals(): EngineInternals | string {
  const e = tf.engine() as unknown as Partial<EngineInternals>;
  if (e.state == null || typeof e.state.gradientDepth !== 'number') return 'tfjs engine.state has no gradientDepth';
  for (const m of ['scopedRun', 'startTape', 'endTape', 'tidy'] as const) {
    if (typeof e[m] !== 'function') return `tfjs engine has no ${m}()`;
  }
  if (e.registeredVariables == null || typeof e.registeredVariables !== 'object') return 'tfjs engine has no registeredVariables';
  return e as EngineInternals;
}

/** Why the tape is not as this expects (or null when it is). */
function checkTape(tape: unknown): string | null {
  if (!Array.isArray(tape)) return 'tfjs engine.state.activeTape is not an array after the forward';
  for (const n of tape as Partial<TapeNode>[]) {
    if (n == null || typeof n.id !== 'number' || n.inputs == null || typeof n.inputs !== 'object' || !Array.isArray(n.outputs) || !Array.isArray(n.saved)) {
      return 'a tfjs tape node lacks id/inputs/outputs/saved';
    }
  }
  return null;
}

/** tfjs-core's getFilteredNodesXToY: the nodes on a path from an x to y, their inputs pruned to those from an x. */
function filterTape(tape: TapeNode[], xs: Tensor[], y: Tensor): TapeNode[] {
  const fromX = new Set<number>(xs.map((x) => x.id));
  const nodesFromX = new Set<number>();
  for (const node of tape) {
    for (const name in node.inputs) {
      if (fromX.has(node.inputs[name]!.id)) {
        for (const o of node.outputs) fromX.add(o.id);
        nodesFromX.add(node.id);
        break;
      }
    }
  }
  const toY = new Set<number>([y.id]);
  const nodesToY = new Set<number>();
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i]!;
    if (node.outputs.some((o) => toY.has(o.id))) {
      for (const name in node.inputs) {
        toY.add(node.inputs[name]!.id);
        nodesToY.add(node.id);
      }
    }
  }
  const out: TapeNode[] = [];
  for (const node of tape) {
    if (!nodesFromX.has(node.id) || !nodesToY.has(node.id)) continue;
    const inputs: Record<string, Tensor> = {};
    for (const name in node.inputs) if (fromX.has(node.inputs[name]!.id)) inputs[name] = node.inputs[name]!;
    out.push({ ...node, inputs, outputs: node.outputs });
  }
  return out;
}

/** The id the next tensor will get (tfjs numbers tensors from a static counter on its Engine class). */
function nextTensorId(): number {
  const counter = (tf.engine().constructor as { nextTensorId?: unknown }).nextTensorId;
  if (typeof counter === 'number') return counter;
  const probe = tf.scalar(0); // without the counter: a tensor's own id, taken now
  probe.dispose();
  return probe.id + 1;
}

function sameShape(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * engine.gradients with the freeing backward. Returns null (having run nothing) when it must fall back.
 * `f` runs under a tape exactly as in tfjs.
 */
function freeingGradients(e: EngineInternals, f: () => Tensor, xs: Tensor[]): { value: Tensor; grads: (Tensor | undefined)[] } {
  // The forward saves tensors for the backward without a kernel call and a tape node each (cheap-saves.ts).
  const forward = () => e.tidy('forward', f);
  const cheap = cheapSavesUnsupported(e as unknown as Partial<SaveEngine>) == null;
  const y = e.scopedRun(() => e.startTape(), () => e.endTape(), cheap ? () => withCheapSaves(e as unknown as SaveEngine, tf.getKernel, forward) : forward);
  if (!(y instanceof tf.Tensor)) throw new Error('The result y returned by f() must be a tensor.');
  const fullTape = e.state.activeTape!;
  const tape = filterTape(fullTape, xs, y);
  // gradientDepth is 0 here (checked by the caller), so the tape is ours to clean, as tfjs does.
  return e.tidy('backward', () => {
    // The accumulated gradient of each tensor id, and how many ids share each gradient tensor (a gradient
    // function may hand dy straight through, or return one tensor for two inputs).
    const acc = new Map<number, Tensor>();
    const holders = new Map<Tensor, number>();
    const hold = (id: number, t: Tensor) => {
      acc.set(id, t);
      holders.set(t, (holders.get(t) ?? 0) + 1);
    };
    const release = (id: number): Tensor | undefined => {
      const t = acc.get(id);
      if (t == null) return undefined;
      acc.delete(id);
      const n = holders.get(t)! - 1;
      if (n > 0) holders.set(t, n);
      else holders.delete(t);
      return n > 0 ? undefined : t;
    };
    // Never disposed here: the xs, y and the caller's tensors (anything not made by this backward is
    // either a saved tensor, handled below, or the caller's).
    const keepIds = new Set<number>(xs.map((x) => x.id));
    keepIds.add(y.id);
    // Saved tensors of nodes whose gradient has not run yet.
    const pendingSaved = new Map<number, number>();
    for (const node of tape) for (const s of node.saved ?? []) pendingSaved.set(s.id, (pendingSaved.get(s.id) ?? 0) + 1);
    // Tensor ids only grow: whatever has an id from the seed's on was made by this backward. Only those are
    // disposed here (a gradient function may return a tensor it did not make: a saved one, a captured one).
    const seed = tf.ones(y.shape);
    const disposable = (t: Tensor) => t.id >= seed.id && !keepIds.has(t.id) && !holders.has(t) && !pendingSaved.has(t.id) && !t.isDisposed;
    // After node i has run, no node left (those before it) reads the gradient of a tensor whose earliest
    // reference on the filtered tape is node i: those gradients are freed then.
    const freeAfter = new Map<number, number[]>();
    const seen = new Set<number>();
    tape.forEach((node, i) => {
      const ids = [...node.outputs.map((o) => o.id), ...Object.values(node.inputs).map((t) => t.id)];
      for (const id of ids) {
        if (seen.has(id)) continue;
        seen.add(id);
        const list = freeAfter.get(i) ?? [];
        list.push(id);
        freeAfter.set(i, list);
      }
    });

    hold(y.id, seed);
    for (let i = tape.length - 1; i >= 0; i--) {
      const node = tape[i]!;
      const dys = node.outputs.map((o) => acc.get(o.id) ?? null);
      if (node.gradient == null) throw new Error(`Cannot compute gradient: gradient function not found for ${node.kernelName}.`);
      // Run the node in its own scope: what its gradient makes and nothing ends up holding (a dx added
      // into an existing sum, the zeros tfjs makes for a null dy, intermediates) goes when the node is
      // done, not at the end of the backward. Nothing made during this node is disposed before then (a
      // gradient function may return one tensor for several inputs).
      const nodeStart = nextTensorId(); // tensors with an id from here on were made by this node
      e.tidy(() => {
        const inputGradients = node.gradient!(dys);
        for (const name in node.inputs) {
          if (!(name in inputGradients)) {
            throw new Error(`Cannot backprop through input ${name}. Available gradients found: ${Object.keys(inputGradients)}.`);
          }
          const dx = e.tidy(() => inputGradients[name]!());
          if (dx.dtype !== 'float32') {
            throw new Error(`Error in gradient for op ${node.kernelName}. The gradient of input ${name} must have 'float32' dtype, but has '${dx.dtype}'`);
          }
          const x = node.inputs[name]!;
          if (!sameShape(dx.shape, x.shape)) {
            throw new Error(`Error in gradient for op ${node.kernelName}. The gradient of input '${name}' has shape '${dx.shape}', which does not match the shape of the input '${x.shape}'`);
          }
          const cur = acc.get(x.id);
          if (cur == null) {
            hold(x.id, dx);
          } else {
            // tfjs's accumulation: add(current, dx), then the current sum is disposed (here: unless
            // something still holds it, or it was made by this node and may still be returned).
            const sum = tf.add(cur, dx);
            const old = release(x.id);
            hold(x.id, sum);
            if (old != null && old.id < nodeStart && !dys.includes(old) && disposable(old)) old.dispose();
          }
        }
        // Kept past the node: the gradients its inputs now hold.
        return Object.values(node.inputs).map((x) => acc.get(x.id)!);
      });
      for (const s of node.saved ?? []) {
        const n = pendingSaved.get(s.id)! - 1;
        if (n > 0) pendingSaved.set(s.id, n);
        else pendingSaved.delete(s.id);
      }
      // This node's dys: its outputs' gradients, no longer read by anyone once it has run.
      for (const id of freeAfter.get(i) ?? []) {
        if (keepIds.has(id)) continue;
        const t = release(id);
        if (t != null && disposable(t)) t.dispose();
      }
      // This node's saved tensors (the same array tfjs disposes at the end), unless a gradient is one of them.
      for (const s of node.saved ?? []) if (!holders.has(s) && !pendingSaved.has(s.id) && !keepIds.has(s.id)) s.dispose();
    }
    const grads = xs.map((x) => acc.get(x.id));
    // As tfjs: the saved tensors of every node (those off the path too), then the tape goes. A returned
    // gradient is never disposed.
    const returned = new Set(grads.filter((g): g is Tensor => g != null));
    for (const node of fullTape) for (const s of node.saved ?? []) if (!returned.has(s)) s.dispose();
    e.state.activeTape = null;
    return { value: y, grads };
  });
}

/** Whether the freeing backward is turned off (OPENSORA_BACKWARD=tfjs), for comparisons. */
function disabledByEnv(): boolean {
  return typeof process !== 'undefined' && process.env?.OPENSORA_BACKWARD === 'tfjs';
}

/**
 * Same contract as tf.variableGrads(f, varList): the value of `f` and the gradient of each trainable
 * variable by name (null for a listed non-trainable one; an unused variable has no entry), with the same
 * values bit for bit, computed by a backward that frees each gradient and each node's saved tensors as
 * soon as nothing left needs them, so its peak memory is lower. Nested (higher-order) gradients, and a
 * tfjs whose internals are not as expected, use tf.variableGrads. OPENSORA_BACKWARD=tfjs turns it off.
 */
export function freeingVariableGrads(f: () => tf.Scalar, varList?: tf.Variable[]): { value: tf.Scalar; grads: tf.NamedTensorMap } {
  if (disabledByEnv()) return tf.variableGrads(f, varList);
  const e = engineInternals();
  if (typeof e === 'string') {
    warnOnce(e);
    return tf.variableGrads(f, varList);
  }
  if (e.state.gradientDepth !== 0) return tf.variableGrads(f, varList); // nested: tfjs's own behaviour
  if (typeof f !== 'function') throw new Error('The f passed in variableGrads(f) must be a function');
  if (varList != null && !(Array.isArray(varList) && varList.every((v) => v instanceof tf.Variable))) {
    throw new Error('The varList passed in variableGrads(f, varList) must be an array of variables');
  }
  const specified = varList != null;
  let vars: tf.Variable[] = specified ? varList! : Object.values(e.registeredVariables);
  const nonTrainable = specified ? vars.filter((v) => !v.trainable) : null;
  const count = vars.length;
  vars = vars.filter((v) => v.trainable);
  if (vars.length === 0) {
    throw new Error(`variableGrads() expects at least one of the input variables to be trainable, but none of the ${count} variables is trainable.`);
  }
  // Check the tape's shape on a probe before trusting it with the real step.
  const probe = checkTapeShape(e);
  if (probe != null) {
    warnOnce(probe);
    return tf.variableGrads(f, varList);
  }
  const { value, grads } = freeingGradients(e, f, vars);
  if (!grads.some((g) => g != null)) {
    throw new Error('Cannot find a connection between any variable and the result of the loss function y=f(x). Please make sure the operations that use variables are inside the function f passed to minimize().');
  }
  if (value.rank !== 0) throw new Error(`The f passed in variableGrads(f) must return a scalar, but it returned a rank-${value.rank} tensor`);
  const named: tf.NamedTensorMap = {};
  vars.forEach((v, i) => {
    if (grads[i] != null) named[v.name] = grads[i]!;
  });
  if (nonTrainable != null) for (const v of nonTrainable) (named as Record<string, Tensor | null>)[v.name] = null;
  return { value: value as tf.Scalar, grads: named };
}

let tapeChecked: string | null | undefined;
/** Records a one-op tape once and checks its nodes look as this expects (null when they do). */
function checkTapeShape(e: EngineInternals): string | null {
  if (tapeChecked !== undefined) return tapeChecked;
  let why: string | null = null;
  tf.tidy(() => {
    const x = tf.scalar(2);
    e.scopedRun(() => e.startTape(), () => e.endTape(), () => e.tidy(() => tf.mul(x, x)));
    const tape = e.state.activeTape;
    why = checkTape(tape);
    if (why == null && !tape!.some((n) => n.kernelName === 'Multiply' && typeof n.gradient === 'function' && n.outputs.length === 1 && 'a' in n.inputs && 'b' in n.inputs)) {
      why = 'a tfjs tape does not record a Multiply node with its inputs and gradient';
    }
    if (Array.isArray(tape)) for (const n of tape) for (const s of n.saved ?? []) s.dispose();
    e.state.activeTape = null;
  });
  tapeChecked = why;
  return why;
}

/** valueAndGrads-style variant over explicit variables: the value and the gradients in varList's order. */
export function freeingValueAndGrads(f: () => tf.Scalar, varList: tf.Variable[]): { value: tf.Scalar; grads: (Tensor | null)[] } {
  const { value, grads } = freeingVariableGrads(f, varList);
  return { value, grads: varList.map((v) => grads[v.name] ?? null) };
}
