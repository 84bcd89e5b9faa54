// Finding the state dict inside what a .pt/.bin file's pickle holds. Most published files are a
// flat {name: tensor} dict (HF pytorch_model*.bin, the reference's ema.pt). Some wrap it: Latte's
// checkpoint under 'ema' and PixArt's under 'state_dict' (Open-Sora's ckpt_utils.reparameter
// unwraps exactly those two); training scripts elsewhere save {'model': sd} or DeepSpeed's
// {'module': sd}. One level is unwrapped, in that order of preference (EMA weights are what
// the reference's stage configs start from). A `module.` prefix on every key (a state dict saved
// from a DistributedDataParallel wrapper) is stripped; the reference never needs to, we do it
// because such files are common and the prefix is never part of a model's own names.
import { CheckpointError } from './errors.js';
import { PyDict, TensorRef, describe, type PyKey, type PyValue } from './unpickle.js';

/** The wrapper keys unwrapped, in order of preference. */
export const STATE_DICT_WRAPPERS = ['ema', 'state_dict', 'model', 'module'] as const;
const DDP_PREFIX = 'module.';

export interface FoundStateDict {
  tensors: Map<string, TensorRef>;
  /** The wrapper key the tensors were found under, when the top level was not the state dict. */
  unwrapped?: string;
  /** The prefix stripped from every key ('module.'), when there was one. */
  strippedPrefix?: string;
}

function keyName(k: PyKey): string {
  return typeof k === 'string' ? k : String(k);
}

function tensorsOf(d: PyDict): Map<string, TensorRef> {
  const out = new Map<string, TensorRef>();
  for (const [k, v] of d.items) if (v instanceof TensorRef) out.set(keyName(k), v);
  return out;
}

function listKeys(d: PyDict): string {
  const ks = [...d.items.keys()].map((k) => `'${keyName(k)}'`);
  return ks.length > 8 ? `${ks.slice(0, 8).join(', ')}, ... (${ks.length} in all)` : ks.join(', ');
}

/**
 * The state dict in `top` (the unpickled data.pkl): `top` itself when it holds tensors, else the
 * first of 'ema', 'state_dict', 'model', 'module' that is a dict of tensors; or `entry` when given.
 */
export function findStateDict(top: PyValue, file: string, entry?: string): FoundStateDict {
  if (!(top instanceof PyDict)) {
    throw new CheckpointError(`${file}: holds ${describe(top)}, not a state dict (a dict of tensors); save model.state_dict() instead.`);
  }
  let tensors: Map<string, TensorRef>;
  let unwrapped: string | undefined;
  if (entry !== undefined) {
    const v = top.items.get(entry);
    if (!(v instanceof PyDict) || tensorsOf(v).size === 0) {
      throw new CheckpointError(`${file}: has no state dict under '${entry}' (${v === undefined ? 'no such key' : `it holds ${describe(v)}`}); its top-level keys are ${listKeys(top)}.`);
    }
    tensors = tensorsOf(v);
    unwrapped = entry;
  } else {
    tensors = tensorsOf(top);
    if (tensors.size === 0) {
      for (const w of STATE_DICT_WRAPPERS) {
        const v = top.items.get(w);
        if (v instanceof PyDict && tensorsOf(v).size > 0) {
          tensors = tensorsOf(v);
          unwrapped = w;
          break;
        }
      }
    }
    if (tensors.size === 0) {
      throw new CheckpointError(
        `${file}: holds no tensors: its top-level keys are ${listKeys(top) || 'none'}, and none of ${STATE_DICT_WRAPPERS.map((w) => `'${w}'`).join(', ')} ` +
          `is a dict of tensors. Save the model's weights with torch.save(model.state_dict(), path), or convert the file to .safetensors.`,
      );
    }
  }
  const keys = [...tensors.keys()];
  if (keys.every((k) => k.startsWith(DDP_PREFIX))) {
    tensors = new Map([...tensors].map(([k, t]) => [k.slice(DDP_PREFIX.length), t]));
    return { tensors, unwrapped, strippedPrefix: DDP_PREFIX };
  }
  return { tensors, unwrapped };
}
