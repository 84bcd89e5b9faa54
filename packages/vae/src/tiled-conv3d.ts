// The reference's TiledConv3d: a stride-1 convolution computed as several convolutions over
// contiguous slices of one dim (the largest of T, H, W unless fixed), each slice carrying the
// kernel's halo, concatenated back. Same maths as one conv, less peak memory per call.
import { conv3dPadded, tf, type Conv3dPads } from '@opensora-ts/kernels';
import { replace } from './replace.js';

export interface TilingOptions {
  /** Outputs per tile when `numTiles` is not given: tiles = floor(size / tileSize). */
  tileSize: number;
  /** PyTorch dim to tile (2 = T, 3 = H, 4 = W); null picks the largest (the first on ties). */
  tiledDim?: 2 | 3 | 4 | null;
  /** Fixed tile count; overrides tileSize. */
  numTiles?: number | null;
}

type Triple = [number, number, number];

interface TilePlan {
  /** 0, 1, 2 = T, H, W. */
  axis: number;
  /** Each tile's input rows [start, start + len) along the axis, halo included. */
  tiles: { start: number; len: number }[];
}

/**
 * TiledConv3d's split of an input of `sizes` (T, H, W): the tiled axis and each tile's rows, or null
 * when there would be fewer than 2 tiles (the reference divides by zero there; one tile is the plain conv).
 */
function planTiles(sizes: number[], filter: tf.Tensor5D, stride: Triple, tiling: TilingOptions): TilePlan | null {
  let axis = tiling.tiledDim != null ? tiling.tiledDim - 2 : 0;
  if (tiling.tiledDim == null) for (let i = 1; i < 3; i++) if (sizes[i]! > sizes[axis]!) axis = i;
  const size = sizes[axis]!;
  const k = filter.shape[axis]!;
  const s = stride[axis]!;
  const numTiles = tiling.numTiles ?? Math.floor(size / tiling.tileSize);
  const ops = Math.floor((size - (k - 1) - 1) / s) + 1;
  if (numTiles < 2 || ops < numTiles) return null;
  const base = Math.floor(ops / numTiles);
  const extra = ops % numTiles;
  const tiles: TilePlan['tiles'] = [];
  let done = 0;
  for (let i = 0; i < numTiles; i++) {
    const n = base + (i < extra ? 1 : 0);
    tiles.push({ start: s * done, len: s * (n - 1) + k });
    done += n;
  }
  return { axis, tiles };
}

/**
 * conv3d ('valid', no padding) of channels-last x [B, T, H, W, C] with filter [kT, kH, kW, Cin, Cout],
 * tiled as TiledConv3d does. Falls back to one conv when there would be fewer than 2 tiles (the
 * reference divides by zero there; a tile count of 1 is the plain conv).
 */
export function tiledConv3d(x: tf.Tensor5D, filter: tf.Tensor5D, bias: tf.Tensor | null, stride: Triple, tiling: TilingOptions | null): tf.Tensor5D {
  return tf.tidy(() => {
    const conv = (input: tf.Tensor5D) => {
      const y = tf.conv3d(input, filter, stride, 'valid');
      return bias ? replace(y, tf.add(y, bias) as tf.Tensor5D) : y;
    };
    const plan = tiling && planTiles([x.shape[1], x.shape[2], x.shape[3]], filter, stride, tiling);
    if (!plan) return conv(x);
    const { axis } = plan;
    const parts: tf.Tensor5D[] = [];
    for (const { start, len } of plan.tiles) {
      const begin = [0, 0, 0, 0, 0];
      const extent = [...x.shape] as number[];
      begin[axis + 1] = start;
      extent[axis + 1] = len;
      const slice = tf.slice(x, begin, extent) as tf.Tensor5D;
      parts.push(conv(slice));
      slice.dispose(); // a copy: freed now rather than with every other tile's at the tidy's end
    }
    return tf.concat(parts, axis + 1) as tf.Tensor5D;
  });
}

/**
 * tiledConv3d of x zero-padded by `pads` (front/back of T, H, W), without making the padded copy:
 * each tile is the slice of x its halo reads, convolved with the part of the padding that falls in
 * it, and the bias is added inside each tile's conv (conv3dPadded, one fused kernel where the
 * backend has it). Tiles, their sizes and the tiled dim are those tiledConv3d picks on the padded
 * input, so the values are the same.
 */
export function tiledConv3dPadded(x: tf.Tensor5D, filter: tf.Tensor5D, bias: tf.Tensor | null, stride: Triple, pads: Conv3dPads, tiling: TilingOptions | null): tf.Tensor5D {
  const plan = tiling && planTiles([0, 1, 2].map((i) => x.shape[i + 1]! + pads[i]![0] + pads[i]![1]), filter, stride, tiling);
  if (!plan) return conv3dPadded(x, filter, bias, stride, pads);
  return tf.tidy(() => {
    const { axis } = plan;
    const [front] = pads[axis]!;
    const real = x.shape[axis + 1]!;
    const parts: tf.Tensor5D[] = [];
    for (const tile of plan.tiles) {
      // The tile reads padded rows [start, end): rows [lo, hi) of x plus zeros either side.
      const start = tile.start - front;
      const end = start + tile.len;
      const lo = Math.max(start, 0);
      const hi = Math.min(end, real);
      if (hi <= lo) {
        // A tile made of padding only (not a shape the VAE makes): the padded-copy route.
        tf.dispose(parts);
        return tiledConv3d(tf.pad(x, [[0, 0], ...pads, [0, 0]]) as tf.Tensor5D, filter, bias, stride, tiling);
      }
      const begin = [0, 0, 0, 0, 0];
      const extent = [...x.shape] as number[];
      begin[axis + 1] = lo;
      extent[axis + 1] = hi - lo;
      const tilePads = pads.map((p) => [...p]) as Conv3dPads;
      tilePads[axis] = [lo - start, end - hi];
      const slice = lo === 0 && hi === real ? x : (tf.slice(x, begin, extent) as tf.Tensor5D);
      parts.push(conv3dPadded(slice, filter, bias, stride, tilePads));
      // Each slice is a copy (the tiled dim is not the outermost); freed now, not when the tidy
      // ends, the slices of every tile would be alive at once: 1.5x the input at 3-wide kernels.
      if (slice !== x) slice.dispose();
    }
    return tf.concat(parts, axis + 1) as tf.Tensor5D;
  });
}
