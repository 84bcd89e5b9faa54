// SentencePiece's normalization as Hugging Face tokenizers applies it (its `Precompiled`
// normalizer, the spm_precompiled crate): the model's `precompiled_charsmap` is a darts-clone
// double-array trie from UTF-8 byte strings to offsets into a pool of NUL-terminated
// replacements. @huggingface/tokenizers (JS) ignores the charsmap and approximates it with NFKC,
// so the lookup is ported here, quirks included:
//  - the text is cut into extended grapheme clusters; a cluster shorter than 6 UTF-8 bytes is
//    looked up whole, otherwise (or when that finds nothing) each of its characters is;
//  - a lookup takes the SHORTEST trie key that prefixes the chunk and replaces the WHOLE chunk
//    with that key's replacement (so a cluster "x + mark" where only "x" has a rule loses the mark).
// Format: [u32 LE trie byte length][trie: u32 LE units][replacement pool: UTF-8, NUL-separated].

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

export class PrecompiledCharsmap {
  private readonly units: Uint32Array;
  private readonly pool: Uint8Array;
  private readonly replacements = new Map<number, string>();
  private readonly segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

  /** Throws on a charsmap that cannot be parsed (too short, trie past the end, pool not UTF-8). */
  constructor(charsmap: Uint8Array) {
    if (charsmap.length < 4) throw new Error(`precompiled_charsmap of ${charsmap.length} bytes has no trie size`);
    const view = new DataView(charsmap.buffer, charsmap.byteOffset, charsmap.byteLength);
    const trieBytes = view.getUint32(0, true);
    const count = Math.floor(trieBytes / 4);
    if (4 + count * 4 > charsmap.length) throw new Error(`precompiled_charsmap: trie of ${trieBytes} bytes runs past the end (${charsmap.length} bytes)`);
    this.units = new Uint32Array(count);
    for (let i = 0; i < count; i++) this.units[i] = view.getUint32(4 + 4 * i, true);
    this.pool = charsmap.subarray(4 + count * 4);
    try {
      utf8Decoder.decode(this.pool);
    } catch {
      throw new Error('precompiled_charsmap: the replacement pool is not UTF-8');
    }
  }

  /** The normalized text. */
  normalize(text: string): string {
    let out = '';
    for (const { segment } of this.segmenter.segment(text)) {
      const bytes = utf8.encode(segment);
      if (bytes.length < 6) {
        const whole = this.lookup(bytes);
        if (whole !== undefined) {
          out += whole;
          continue;
        }
      }
      if (bytes.length === segment.length) {
        // ASCII-only cluster with no whole-cluster rule: its characters are one byte each.
        for (let i = 0; i < bytes.length; i++) out += this.lookup(bytes.subarray(i, i + 1)) ?? segment[i];
        continue;
      }
      for (const ch of segment) out += this.lookup(utf8.encode(ch)) ?? ch;
    }
    return out;
  }

  /** Replacement for the shortest trie key prefixing `key` (stopping at a NUL byte), if any. */
  private lookup(key: Uint8Array): string | undefined {
    const units = this.units;
    if (units.length === 0) return undefined;
    let node = offset(units[0]!);
    for (const c of key) {
      if (c === 0) return undefined;
      node ^= c;
      const unit = units[node];
      if (unit === undefined || label(unit) !== c) return undefined;
      node ^= offset(unit);
      if (hasLeaf(unit)) {
        const leaf = units[node];
        return leaf === undefined ? undefined : this.replacement(value(leaf));
      }
    }
    return undefined;
  }

  private replacement(at: number): string {
    let s = this.replacements.get(at);
    if (s === undefined) {
      let end = at;
      while (end < this.pool.length && this.pool[end] !== 0) end++;
      s = utf8Decoder.decode(this.pool.subarray(Math.min(at, this.pool.length), end));
      this.replacements.set(at, s);
    }
    return s;
  }
}

// darts-clone unit layout.
const hasLeaf = (unit: number) => ((unit >>> 8) & 1) === 1;
const value = (unit: number) => unit & 0x7fffffff;
const label = (unit: number) => (unit & 0x800000ff) >>> 0;
const offset = (unit: number) => (unit >>> 10) << ((unit & (1 << 9)) >>> 6);
