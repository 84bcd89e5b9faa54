// Deepening a trained STDiT3 without changing what it computes, so that training can go on with more
// capacity from where it stopped instead of from scratch. Every block is residual (x + gate * attn,
// x + cross_attn, x + gate * mlp), so a block whose three output projections are zero is the identity.
// The new blocks copy the weights of the old block before them (features that already fit that depth)
// with those projections zeroed; training then grows them from the identity.
import type { HostTensor } from '@opensora-ts/kernels';

const STACKS = ['spatial_blocks', 'temporal_blocks'] as const;
/** Output projections of a block: zero in all three, the block adds nothing to its input. */
const OUTPUT_PROJECTIONS = ['attn.proj.weight', 'attn.proj.bias', 'cross_attn.proj.weight', 'cross_attn.proj.bias', 'mlp.fc2.weight', 'mlp.fc2.bias'];

/** Number of blocks in each stack of a state dict (they must agree). */
export function stdit3Depth(state: Map<string, HostTensor>): number {
  const depths = STACKS.map((stack) => {
    const ids = [...state.keys()].filter((k) => k.startsWith(`${stack}.`)).map((k) => Number(k.split('.')[1]));
    return ids.length ? Math.max(...ids) + 1 : 0;
  });
  if (depths[0] === 0) throw new Error("state dict has no 'spatial_blocks.N.*' keys; is it an STDiT3 checkpoint?");
  if (depths[1] !== 0 && depths[1] !== depths[0]) throw new Error(`state dict has ${depths[0]} spatial and ${depths[1]} temporal blocks; STDiT3 needs as many of each`);
  return depths[0]!;
}

/**
 * Returns `state` with `depth` blocks per stack. Old block i moves to position floor(i * depth / old);
 * each free position after it holds a copy of block i with its output projections zeroed (the
 * identity). The grown model's output equals the old model's until training moves the new blocks.
 */
export function growSTDiT3Depth(state: Map<string, HostTensor>, depth: number): Map<string, HostTensor> {
  const from = stdit3Depth(state);
  if (!Number.isInteger(depth) || depth < from) throw new Error(`growSTDiT3Depth: depth must be an integer >= the checkpoint's ${from}, got ${depth}`);
  const out = new Map<string, HostTensor>();
  for (const [k, v] of state) if (!STACKS.some((s) => k.startsWith(`${s}.`))) out.set(k, v);
  const startOf = (i: number) => Math.floor((i * depth) / from);
  for (const stack of STACKS) {
    for (let i = 0; i < from; i++) {
      const prefix = `${stack}.${i}.`;
      const block = [...state].filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v] as const);
      if (!block.length) continue; // a model without temporal blocks
      const end = i + 1 < from ? startOf(i + 1) : depth;
      for (let p = startOf(i); p < end; p++) {
        for (const [name, v] of block) {
          const identity = p !== startOf(i) && OUTPUT_PROJECTIONS.includes(name);
          out.set(`${stack}.${p}.${name}`, identity ? { ...v, shape: [...v.shape], data: new Float32Array(v.data.length) } : v);
        }
      }
    }
  }
  return out;
}
