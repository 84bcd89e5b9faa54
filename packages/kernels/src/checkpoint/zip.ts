// A read-only zip reader for torch.save archives: the central directory is read once, then any
// entry (or any byte range of a stored entry) is read with synchronous positioned reads, so a
// multi-gigabyte .bin is never held in memory and one tensor is read at a time. zip64 (archives
// over 4 GiB, entries over 4 GiB, more than 65535 entries) is handled.
//
// Why not a library: the zip packages on npm either load the whole archive into memory (adm-zip,
// jszip, fflate) or read asynchronously through streams (yauzl, node-stream-zip, @zip.js/zip.js).
// Module loading here is synchronous and must read a slice of one entry at a given offset; the
// central-directory format needed for that is small, so it is written out below.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { inflateRawSync } from 'node:zlib';
import { CheckpointError } from './errors.js';

export interface ZipEntry {
  name: string;
  /** 0 stored, 8 deflate. */
  method: number;
  compressedSize: number;
  size: number;
  /** Offset of the local file header. */
  localOffset: number;
  /** Offset of the entry's data (after the local header); resolved when the archive is opened. */
  dataOffset: number;
}

const EOCD_SIG = 0x06054b50;
const ZIP64_LOCATOR_SIG = 0x07064b50;
const ZIP64_EOCD_SIG = 0x06064b50;
const CENTRAL_SIG = 0x02014b50;
const LOCAL_SIG = 0x04034b50;
const EOCD_MIN = 22;
const MAX_COMMENT = 0xffff;

function u64(buf: Buffer, at: number): number {
  const v = buf.readBigUInt64LE(at);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError(`zip field ${v} is beyond 2^53`);
  return Number(v);
}

export class ZipArchive {
  readonly path: string;
  readonly size: number;
  readonly entries: ReadonlyMap<string, ZipEntry>;
  private fd: number;

  constructor(path: string) {
    this.path = path;
    this.fd = openSync(path, 'r');
    try {
      this.size = fstatSync(this.fd).size;
      this.entries = this.readDirectory();
    } catch (err) {
      closeSync(this.fd);
      this.fd = -1;
      throw err;
    }
  }

  private fail(what: string): never {
    throw new CheckpointError(`${this.path}: ${what}`);
  }

  private truncated(what: string): never {
    this.fail(`${what}; the file is truncated or is not a zip archive (torch.save writes one). Re-download or re-copy it.`);
  }

  private readAt(position: number, length: number): Buffer {
    const buf = Buffer.alloc(length);
    let done = 0;
    while (done < length) {
      const got = readSync(this.fd, buf, done, Math.min(length - done, 1 << 30), position + done);
      if (got === 0) this.truncated(`unexpected end of file at byte ${position + done} (reading ${length} bytes at ${position})`);
      done += got;
    }
    return buf;
  }

  private readDirectory(): Map<string, ZipEntry> {
    if (this.size < EOCD_MIN) this.truncated(`${this.size} bytes is too short for a zip archive`);
    const tailLen = Math.min(this.size, EOCD_MIN + MAX_COMMENT);
    const tailStart = this.size - tailLen;
    const tail = this.readAt(tailStart, tailLen);
    let eocd = -1;
    for (let i = tailLen - EOCD_MIN; i >= 0; i--) {
      if (tail.readUInt32LE(i) === EOCD_SIG && i + EOCD_MIN + tail.readUInt16LE(i + 20) === tailLen) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) this.truncated('no end-of-central-directory record at the end of the file');
    let count = tail.readUInt16LE(eocd + 10);
    let cdSize = tail.readUInt32LE(eocd + 12);
    let cdOffset = tail.readUInt32LE(eocd + 16);
    const eocdPos = tailStart + eocd;
    if (tail.readUInt16LE(eocd + 4) !== 0 || tail.readUInt16LE(eocd + 6) !== 0) this.fail('a multi-disk (split) zip archive is not supported; join the parts into one file.');
    // zip64: a locator sits just before the classic record and points at the zip64 record.
    if (eocdPos >= 20) {
      const loc = this.readAt(eocdPos - 20, 20);
      if (loc.readUInt32LE(0) === ZIP64_LOCATOR_SIG) {
        const at = u64(loc, 8);
        if (at + 56 > eocdPos) this.truncated(`zip64 end record offset ${at} is outside the file`);
        const rec = this.readAt(at, 56);
        if (rec.readUInt32LE(0) !== ZIP64_EOCD_SIG) this.truncated(`no zip64 end-of-central-directory record at byte ${at}`);
        count = u64(rec, 32);
        cdSize = u64(rec, 40);
        cdOffset = u64(rec, 48);
      }
    }
    if (cdOffset + cdSize > eocdPos) this.truncated(`the central directory (bytes ${cdOffset}..${cdOffset + cdSize}) runs past its end record at ${eocdPos}`);
    const cd = this.readAt(cdOffset, cdSize);
    const entries = new Map<string, ZipEntry>();
    let p = 0;
    for (let i = 0; i < count; i++) {
      if (p + 46 > cd.length || cd.readUInt32LE(p) !== CENTRAL_SIG) this.truncated(`central directory entry ${i} of ${count} is malformed`);
      const flags = cd.readUInt16LE(p + 8);
      const method = cd.readUInt16LE(p + 10);
      let compressedSize = cd.readUInt32LE(p + 20);
      let size = cd.readUInt32LE(p + 24);
      const nameLen = cd.readUInt16LE(p + 28);
      const extraLen = cd.readUInt16LE(p + 30);
      const commentLen = cd.readUInt16LE(p + 32);
      let localOffset = cd.readUInt32LE(p + 42);
      if (p + 46 + nameLen + extraLen + commentLen > cd.length) this.truncated(`central directory entry ${i} runs past the directory`);
      const name = cd.toString('utf8', p + 46, p + 46 + nameLen);
      // zip64 extended information: only the fields whose classic value is all ones, in this order.
      let e = p + 46 + nameLen;
      const extraEnd = e + extraLen;
      while (e + 4 <= extraEnd) {
        const id = cd.readUInt16LE(e);
        const len = cd.readUInt16LE(e + 2);
        if (id === 0x0001) {
          let q = e + 4;
          const next = (): number => {
            if (q + 8 > e + 4 + len) this.truncated(`entry '${name}' has a short zip64 field`);
            q += 8;
            return u64(cd, q - 8);
          };
          if (size === 0xffffffff) size = next();
          if (compressedSize === 0xffffffff) compressedSize = next();
          if (localOffset === 0xffffffff) localOffset = next();
        }
        e += 4 + len;
      }
      p += 46 + nameLen + extraLen + commentLen;
      if (flags & 1) this.fail(`entry '${name}' is encrypted; torch.save never encrypts, so this is not a weights archive.`);
      if (method !== 0 && method !== 8) this.fail(`entry '${name}' uses zip compression method ${method}; only stored (0) and deflate (8) are read. Re-save the file with torch.save.`);
      if (localOffset + 30 > cdOffset) this.truncated(`entry '${name}' starts at byte ${localOffset}, past the entries' area`);
      const local = this.readAt(localOffset, 30);
      if (local.readUInt32LE(0) !== LOCAL_SIG) this.truncated(`no local header for entry '${name}' at byte ${localOffset}`);
      const dataOffset = localOffset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
      if (dataOffset + compressedSize > cdOffset) this.truncated(`entry '${name}' (${compressedSize} bytes at ${dataOffset}) runs past the entries' area`);
      entries.set(name, { name, method, compressedSize, size, localOffset, dataOffset });
    }
    return entries;
  }

  entry(name: string): ZipEntry | undefined {
    return this.entries.get(name);
  }

  /** The whole (decompressed) entry. */
  read(name: string): Buffer {
    const e = this.entries.get(name);
    if (!e) this.fail(`no entry '${name}' in the archive`);
    return this.readRange(name, 0, e.size);
  }

  /** `length` bytes of an entry's content starting at `start`; stored entries read only that range. */
  readRange(name: string, start: number, length: number): Buffer {
    const e = this.entries.get(name);
    if (!e) this.fail(`no entry '${name}' in the archive`);
    if (start < 0 || start + length > e.size) this.fail(`entry '${name}' has ${e.size} bytes; bytes ${start}..${start + length} were asked for. The file is corrupt.`);
    if (e.method === 0) return this.readAt(e.dataOffset + start, length);
    // Deflated entries (torch.save never writes them; a re-zipped archive may) are inflated whole.
    let raw: Buffer;
    try {
      raw = inflateRawSync(this.readAt(e.dataOffset, e.compressedSize));
    } catch (err) {
      this.fail(`entry '${name}' does not inflate (${(err as Error).message}); the file is corrupt.`);
    }
    if (raw.length !== e.size) this.fail(`entry '${name}' inflates to ${raw.length} bytes, its header says ${e.size}; the file is corrupt.`);
    return raw.subarray(start, start + length);
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}
