// Parity runners of this package, keyed by fixture kind (see shared/fixtures/opensora13/README.md).
// Everything comes from case.json (config, call) and the case's safetensors, so unseen cases of
// the same format run too.
import { tf, type HostTensor, type ParityCase, type ParityOutput, type ParityRunner, type ParityTensor } from '@opensora-ts/kernels';
import { loadSTDiT3 } from './checkpoint.js';
import type { STDiT3Inputs } from './stdit3.js';

function tensorOf(h: HostTensor): tf.Tensor {
  return tf.tensor(h.data as Float32Array | Int32Array | Uint8Array, h.shape, h.dtype);
}

export const stdit3Forward: ParityRunner = async (c: ParityCase): Promise<ParityOutput> => {
  if (!c.weightsPath) throw new Error(`${c.dir}/case.json: a stdit3_forward case needs 'weights'`);
  const model = loadSTDiT3(c.weightsPath, { config: (c.json.config ?? {}) as Record<string, unknown> });
  const made: tf.Tensor[] = [];
  const input = (name: string, required = false): tf.Tensor | null => {
    const h = c.inputs.get(name);
    if (!h) {
      if (required) throw new Error(`${c.dir}/${c.json.inputs}: missing input '${name}'`);
      return null;
    }
    const t = tensorOf(h);
    made.push(t);
    return t;
  };
  const host = (name: string): Float32Array => {
    const h = c.inputs.get(name);
    if (!h) throw new Error(`${c.dir}/${c.json.inputs}: missing input '${name}'`);
    return Float32Array.from(h.data as ArrayLike<number>);
  };
  const tensors = new Map<string, ParityTensor>();
  try {
    const maskIndex = c.json.call?.mask_index as number[] | null | undefined;
    const inputs: STDiT3Inputs = {
      x: input('x', true)!,
      timestep: host('timestep'),
      y: input('y', true)!,
      mask: input('mask'),
      x_mask: input('x_mask'),
      fps: host('fps'),
      height: host('height'),
      width: host('width'),
      cond: input('cond'),
      cond_mask: input('cond_mask'),
      y_null: input('y_null'),
      mask_index: maskIndex ?? null,
    };
    const keep = (name: string, t: tf.Tensor) => {
      if (c.expected.has(name)) tensors.set(name, { shape: [...t.shape], data: t.dataSync().slice() as Float32Array });
    };
    const out = model.forward(inputs, { recorder: keep });
    keep('output', out);
    out.dispose();
  } finally {
    for (const t of made) t.dispose();
    model.dispose();
  }
  return { tensors };
};

export const parityRunners: Record<string, ParityRunner> = {
  stdit3_forward: stdit3Forward,
};
