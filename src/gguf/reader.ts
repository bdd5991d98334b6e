// Reads GGUF files (llama.cpp's single-file model format, versions 2 and 3): the header, every
// metadata key/value, the tensor table, and where each tensor's bytes lie. The file is never
// loaded whole: the header is read through a small moving window and tensor data on request at
// its offset, so 5 GB+ files cost only their metadata in memory.
// Not here: what the tensors mean (convert.ts) or how their blocks decode (dequant.ts).
//
// Layout (little-endian; https://github.com/ggml-org/ggml/blob/master/docs/gguf.md):
//   u32 magic "GGUF", u32 version, u64 tensor_count, u64 kv_count
//   kv_count x  { string key, u32 value_type, value }
//   tensor_count x { string name, u32 n_dims, u64 ne[n_dims], u32 ggml_type, u64 offset }
//   padding to general.alignment (default 32), then the data section; offsets are relative to it.
// A string is u64 byte length + UTF-8 bytes; an array is u32 element type + u64 count + elements.

import { open, type FileHandle } from 'node:fs/promises';
import { ErrorCode, SftError } from '../errors.js';
import { GgufErrorCode } from './errors.js';
import { ggmlType, ggmlTypeName } from './ggml-types.js';

/** A metadata value: integers as numbers (u64/i64 as bigint only beyond 2^53), arrays as JS arrays. */
export type GgufValue = number | bigint | boolean | string | GgufValue[];

export interface GgufTensorInfo {
  name: string;
  /** GGUF order: ne0 (the contiguous, innermost dimension) first; the PyTorch shape is this reversed. */
  shape: number[];
  /** ggml type id (ggml-types.ts). */
  type: number;
  /** Absolute byte offset of the tensor's data in the file. */
  offset: number;
  /** Byte length of the tensor's data. */
  bytes: number;
}

export interface GgufFile {
  path: string;
  /** GGUF format version (2 or 3). */
  version: number;
  /** File size in bytes. */
  size: number;
  /** general.alignment, or 32. */
  alignment: number;
  /** Absolute offset of the data section. */
  dataOffset: number;
  metadata: Record<string, GgufValue>;
  tensors: GgufTensorInfo[];
}

const MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
const DEFAULT_ALIGNMENT = 32;
const MAX_DIMS = 4; // GGML_MAX_DIMS
const WINDOW = 1 << 20;
/** fs.read takes at most 2^31 - 1 bytes per call. */
const MAX_READ = 1 << 30;

const enum ValueType {
  U8 = 0,
  I8 = 1,
  U16 = 2,
  I16 = 3,
  U32 = 4,
  I32 = 5,
  F32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  U64 = 10,
  I64 = 11,
  F64 = 12,
}

function invalid(path: string, what: string): SftError {
  return new SftError(`${path} is not a readable GGUF file: ${what}`, GgufErrorCode.Invalid);
}

function safeInt(v: bigint): number | bigint {
  return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v;
}

/**
 * Sequential reads through a window of the file. Every read checks the file's end, so a
 * truncated or corrupt header becomes an error naming the offset rather than garbage.
 */
class Cursor {
  private buf = Buffer.alloc(0);
  private bufStart = 0; // file position of buf[0]
  pos = 0;

  constructor(
    private readonly fh: FileHandle,
    readonly path: string,
    readonly size: number,
  ) {}

  /** Makes buf hold [pos, pos + n). */
  private async ensure(n: number, what: string): Promise<number> {
    if (this.pos + n > this.size) {
      throw invalid(this.path, `${what} at byte ${this.pos} needs ${n} bytes but the file ends at ${this.size} (truncated?)`);
    }
    const have = this.bufStart + this.buf.length - this.pos;
    if (have < n) {
      const want = Math.min(Math.max(n, WINDOW), this.size - this.pos);
      const next = Buffer.allocUnsafe(want);
      let filled = 0;
      while (filled < want) {
        const { bytesRead } = await this.fh.read(next, filled, Math.min(want - filled, MAX_READ), this.pos + filled);
        if (bytesRead === 0) throw invalid(this.path, `unexpected end of file at byte ${this.pos + filled}`);
        filled += bytesRead;
      }
      this.buf = next;
      this.bufStart = this.pos;
    }
    const at = this.pos - this.bufStart;
    this.pos += n;
    return at;
  }

  /** ensure() may replace the window, so the buffer is looked up only after it returns. */
  private async at<T>(n: number, what: string, read: (buf: Buffer, at: number) => T): Promise<T> {
    const at = await this.ensure(n, what);
    return read(this.buf, at);
  }

  u32(what: string): Promise<number> {
    return this.at(4, what, (bf, at) => bf.readUInt32LE(at));
  }

  u64(what: string): Promise<bigint> {
    return this.at(8, what, (bf, at) => bf.readBigUInt64LE(at));
  }

  /** A u64 that must be a count or offset we can index with. */
  async size64(what: string): Promise<number> {
    const v = await this.u64(what);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw invalid(this.path, `${what} ${v} is out of range`);
    return Number(v);
  }

  async string(what: string): Promise<string> {
    const len = await this.size64(`${what} length`);
    return this.at(len, what, (bf, at) => bf.toString('utf8', at, at + len));
  }

  async value(type: number, what: string, depth = 0): Promise<GgufValue> {
    switch (type) {
      case ValueType.U8:
        return this.at(1, what, (bf, at) => bf.readUInt8(at));
      case ValueType.I8:
        return this.at(1, what, (bf, at) => bf.readInt8(at));
      case ValueType.U16:
        return this.at(2, what, (bf, at) => bf.readUInt16LE(at));
      case ValueType.I16:
        return this.at(2, what, (bf, at) => bf.readInt16LE(at));
      case ValueType.U32:
        return this.at(4, what, (bf, at) => bf.readUInt32LE(at));
      case ValueType.I32:
        return this.at(4, what, (bf, at) => bf.readInt32LE(at));
      case ValueType.F32:
        return this.at(4, what, (bf, at) => bf.readFloatLE(at));
      case ValueType.BOOL:
        return this.at(1, what, (bf, at) => bf.readUInt8(at) !== 0);
      case ValueType.STRING:
        return this.string(what);
      case ValueType.U64:
        return this.at(8, what, (bf, at) => safeInt(bf.readBigUInt64LE(at)));
      case ValueType.I64:
        return this.at(8, what, (bf, at) => safeInt(bf.readBigInt64LE(at)));
      case ValueType.F64:
        return this.at(8, what, (bf, at) => bf.readDoubleLE(at));
      case ValueType.ARRAY: {
        if (depth > 8) throw invalid(this.path, `${what}: arrays nested more than 8 deep`);
        const elementType = await this.u32(`${what} element type`);
        const count = await this.size64(`${what} count`);
        // Every element takes at least one byte: a count beyond the file is corruption, not a huge array.
        if (count > this.size - this.pos) throw invalid(this.path, `${what}: array of ${count} elements is larger than the file`);
        return this.array(elementType, count, what, depth);
      }
      default:
        throw invalid(this.path, `${what} has unknown value type ${type}`);
    }
  }

  /** Fixed-size numeric arrays are read in one go (tokenizer scores and types have 100k+ entries). */
  private async array(elementType: number, count: number, what: string, depth: number): Promise<GgufValue[]> {
    const fixed: Partial<Record<number, [number, (buf: Buffer, at: number) => GgufValue]>> = {
      [ValueType.U8]: [1, (bf, at) => bf.readUInt8(at)],
      [ValueType.I8]: [1, (bf, at) => bf.readInt8(at)],
      [ValueType.U16]: [2, (bf, at) => bf.readUInt16LE(at)],
      [ValueType.I16]: [2, (bf, at) => bf.readInt16LE(at)],
      [ValueType.U32]: [4, (bf, at) => bf.readUInt32LE(at)],
      [ValueType.I32]: [4, (bf, at) => bf.readInt32LE(at)],
      [ValueType.F32]: [4, (bf, at) => bf.readFloatLE(at)],
      [ValueType.BOOL]: [1, (bf, at) => bf.readUInt8(at) !== 0],
      [ValueType.U64]: [8, (bf, at) => safeInt(bf.readBigUInt64LE(at))],
      [ValueType.I64]: [8, (bf, at) => safeInt(bf.readBigInt64LE(at))],
      [ValueType.F64]: [8, (bf, at) => bf.readDoubleLE(at)],
    };
    const out: GgufValue[] = new Array<GgufValue>(count);
    const plain = fixed[elementType];
    if (plain) {
      const [width, read] = plain;
      const at = await this.ensure(width * count, what);
      const buf = this.buf;
      for (let i = 0; i < count; i++) out[i] = read(buf, at + i * width);
      return out;
    }
    if (elementType === ValueType.STRING) {
      // Vocabularies hold 100k+ strings: take them straight from the window while it has them.
      for (let i = 0; i < count; i++) out[i] = this.stringInWindow() ?? (await this.string(`${what}[${i}]`));
      return out;
    }
    for (let i = 0; i < count; i++) out[i] = await this.value(elementType, `${what}[${i}]`, depth + 1);
    return out;
  }

  /** The next string if the window already holds all of it, else undefined (nothing consumed). */
  private stringInWindow(): string | undefined {
    const avail = this.bufStart + this.buf.length - this.pos;
    if (avail < 8) return undefined;
    const at = this.pos - this.bufStart;
    const len = this.buf.readBigUInt64LE(at);
    if (len > BigInt(avail - 8)) return undefined;
    const n = Number(len);
    this.pos += 8 + n;
    return this.buf.toString('utf8', at + 8, at + 8 + n);
  }
}

/** Reads the header, metadata and tensor table of a GGUF file (not the tensor data). */
export async function readGguf(path: string): Promise<GgufFile> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new SftError(`GGUF file ${path} does not exist`, ErrorCode.FileNotFound);
    throw err;
  }
  try {
    const { size } = await fh.stat();
    const c = new Cursor(fh, path, size);
    if (size < 24) throw invalid(path, `${size} bytes is too small for a GGUF header`);
    const magic = await c.u32('magic');
    if (magic !== MAGIC) {
      const head = Buffer.alloc(4);
      head.writeUInt32LE(magic);
      throw invalid(path, `it starts with ${JSON.stringify(head.toString('latin1'))}, not "GGUF"`);
    }
    const version = await c.u32('version');
    if (version !== 2 && version !== 3) {
      // A big-endian file reads its version byte-swapped (3 -> 0x03000000).
      const hint = version === 0x02000000 || version === 0x03000000 ? ' (a big-endian GGUF: convert it with a little-endian llama.cpp)' : '';
      throw invalid(path, `GGUF version ${version} is not supported (versions 2 and 3 are)${hint}`);
    }
    const tensorCount = await c.size64('tensor count');
    const kvCount = await c.size64('metadata count');
    if (tensorCount > size || kvCount > size) throw invalid(path, `header counts ${tensorCount} tensors and ${kvCount} keys, more than the file can hold`);

    const metadata: Record<string, GgufValue> = {};
    for (let i = 0; i < kvCount; i++) {
      const key = await c.string(`metadata key ${i}`);
      const type = await c.u32(`type of ${key}`);
      // defineProperty: a key named "__proto__" must stay a key, not replace the prototype.
      Object.defineProperty(metadata, key, { value: await c.value(type, key), enumerable: true, writable: true, configurable: true });
    }

    let alignment = DEFAULT_ALIGNMENT;
    if (metadata['general.alignment'] !== undefined) {
      const a = metadata['general.alignment'];
      if (typeof a !== 'number' || !Number.isInteger(a) || a <= 0 || (a & (a - 1)) !== 0) {
        throw invalid(path, `general.alignment ${String(a)} is not a power of two`);
      }
      alignment = a;
    }

    const raw: { name: string; shape: number[]; type: number; relOffset: number }[] = [];
    for (let i = 0; i < tensorCount; i++) {
      const name = await c.string(`tensor ${i} name`);
      const nDims = await c.u32(`tensor ${name} dimension count`);
      if (nDims > MAX_DIMS) throw invalid(path, `tensor ${name} has ${nDims} dimensions (ggml allows ${MAX_DIMS})`);
      const shape: number[] = [];
      for (let d = 0; d < nDims; d++) shape.push(await c.size64(`tensor ${name} dimension ${d}`));
      const type = await c.u32(`tensor ${name} type`);
      const relOffset = await c.size64(`tensor ${name} offset`);
      raw.push({ name, shape, type, relOffset });
    }
    const dataOffset = Math.ceil(c.pos / alignment) * alignment;

    const seen = new Set<string>();
    const tensors = raw.map(({ name, shape, type, relOffset }): GgufTensorInfo => {
      if (seen.has(name)) throw invalid(path, `tensor ${name} is listed twice`);
      seen.add(name);
      const info = ggmlType(type);
      if (!info) throw invalid(path, `tensor ${name} has unknown ggml type ${type}`);
      const count = shape.reduce((a, b) => a * b, 1);
      if (!Number.isSafeInteger(count)) throw invalid(path, `tensor ${name} shape [${shape.join(', ')}] is too large`);
      if ((shape[0] ?? 1) % info.blockSize !== 0) {
        throw invalid(path, `tensor ${name}: its rows of ${shape[0] ?? 1} values are not whole ${info.name} blocks of ${info.blockSize}`);
      }
      const bytes = (count / info.blockSize) * info.typeSize;
      if (relOffset % alignment !== 0) throw invalid(path, `tensor ${name} offset ${relOffset} is not aligned to ${alignment}`);
      const offset = dataOffset + relOffset;
      if (offset + bytes > size) {
        throw invalid(path, `tensor ${name} (${ggmlTypeName(type)}, ${bytes} bytes at ${offset}) runs past the end of the file (${size} bytes; truncated?)`);
      }
      return { name, shape, type, offset, bytes };
    });
    return { path, version, size, alignment, dataOffset, metadata, tensors };
  } finally {
    await fh.close();
  }
}

/**
 * Reads a tensor's raw bytes, or `length` bytes from `start` within them (for converting a large
 * tensor a slice of rows at a time). Pass an open handle to avoid reopening the file per call.
 */
export async function readTensorBytes(
  file: Pick<GgufFile, 'path'>,
  tensor: GgufTensorInfo,
  range: { start: number; length: number } = { start: 0, length: tensor.bytes },
  handle?: FileHandle,
): Promise<Buffer> {
  const { start, length } = range;
  if (start < 0 || length < 0 || start + length > tensor.bytes) {
    throw new SftError(`${file.path}: bytes [${start}, ${start + length}) are outside tensor ${tensor.name} (${tensor.bytes} bytes)`, ErrorCode.InvalidArgument);
  }
  const fh = handle ?? (await open(file.path, 'r'));
  try {
    const out = Buffer.allocUnsafe(length);
    let filled = 0;
    while (filled < length) {
      const { bytesRead } = await fh.read(out, filled, Math.min(length - filled, MAX_READ), tensor.offset + start + filled);
      if (bytesRead === 0) throw invalid(file.path, `tensor ${tensor.name} ends early at byte ${tensor.offset + start + filled}`);
      filled += bytesRead;
    }
    return out;
  } finally {
    if (!handle) await fh.close();
  }
}

/** Number of values in a tensor. */
export function tensorElements(tensor: Pick<GgufTensorInfo, 'shape'>): number {
  return tensor.shape.reduce((a, b) => a * b, 1);
}
