// Upcasting stored floats (F32, BF16, F16) to float32, noting in the same pass whether every value
// is finite. These functions use nothing from outside their own bodies, because the background
// reader (checkpoint/background-reader.ts) also runs them in a worker thread from their source text.

/** Node 20 has no Float16Array: a 65536-entry table decodes half floats exactly. */
export function makeHalfTable(): Float32Array {
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const s = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 0x1f;
    const m = h & 0x3ff;
    t[h] = e === 0 ? s * m * 2 ** -24 : e === 31 ? (m ? NaN : s * Infinity) : s * (1 + m / 1024) * 2 ** (e - 15);
  }
  return t;
}

/**
 * float32 values of `n` little-endian F32, BF16 or F16 values held by `buffer` (from byte 0), and whether
 * none is NaN or +-Inf (an all-ones exponent). F32 data is used in place; the others are decoded.
 */
export function decodeFloats(dtype: string, buffer: ArrayBuffer, n: number, halfTable: Float32Array | null): { data: Float32Array; finite: boolean } {
  let bad = 0;
  if (dtype === 'F32') {
    const bits = new Int32Array(buffer, 0, n);
    for (let i = 0; i < n; i++) bad |= ((bits[i]! & 0x7f800000) + 0x00800000) & 0x80000000;
    return { data: new Float32Array(buffer, 0, n), finite: bad === 0 };
  }
  const u16 = new Uint16Array(buffer, 0, n);
  if (dtype === 'BF16') {
    // The upcast is a shift.
    const u32 = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      const h = u16[i]!;
      u32[i] = h << 16;
      bad |= ((h & 0x7f80) + 0x80) & 0x8000;
    }
    return { data: new Float32Array(u32.buffer), finite: bad === 0 };
  }
  if (dtype === 'F16' && halfTable) {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const h = u16[i]!;
      out[i] = halfTable[h]!;
      bad |= ((h & 0x7c00) + 0x400) & 0x8000;
    }
    return { data: out, finite: bad === 0 };
  }
  throw new Error(`decodeFloats: ${dtype} is not a float dtype decoded here (F32, BF16, F16)`);
}
