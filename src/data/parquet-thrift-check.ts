// Checks the Thrift structures of a parquet file (the footer and every page header) before
// hyparquet decodes them. hyparquet allocates a list at the size its header declares
// (`new Array(n)`), and a damaged header declaring a list of ~10^8 elements ends Node with a V8
// fatal error that JavaScript cannot catch (found by fuzzing, docs/reliability.md). Here every
// list, set, map and binary must fit in the bytes that remain, else INVALID_DATA.
import { ErrorCode, SftError } from '../errors.js';

// Thrift compact protocol types.
const T = { TRUE: 1, FALSE: 2, BYTE: 3, I16: 4, I32: 5, I64: 6, DOUBLE: 7, BINARY: 8, LIST: 9, SET: 10, MAP: 11, STRUCT: 12 } as const;
const MAX_DEPTH = 64;

class Walker {
  pos: number;
  constructor(
    private readonly bytes: Uint8Array,
    start: number,
    private readonly end: number,
    private readonly where: () => string,
  ) {
    this.pos = start;
  }

  fail(why: string): never {
    throw new SftError(`${this.where()}: ${why} at byte ${this.pos}; the file is damaged (re-save or download it again)`, ErrorCode.InvalidData);
  }

  byte(): number {
    if (this.pos >= this.end) this.fail('the data ends inside a Thrift header');
    return this.bytes[this.pos++] as number;
  }

  varint(): number {
    let result = 0;
    for (let shift = 0; ; shift += 7) {
      if (shift > 63) this.fail('a varint longer than 10 bytes');
      const b = this.byte();
      result += (b & 0x7f) * 2 ** shift;
      if (!(b & 0x80)) return result;
    }
  }

  /** A count (list size, binary length) that must fit in the bytes left, each element taking one at least. */
  count(n: number, what: string): number {
    if (n > this.end - this.pos) this.fail(`a Thrift ${what} of ${n} declared with ${this.end - this.pos} bytes left`);
    return n;
  }

  value(type: number, depth: number): number | undefined {
    if (depth > MAX_DEPTH) this.fail('Thrift structures nested too deep');
    switch (type) {
      case T.TRUE:
      case T.FALSE:
        return undefined;
      case T.BYTE:
        this.byte();
        return undefined;
      case T.I16:
      case T.I32:
      case T.I64: {
        const z = this.varint();
        return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
      }
      case T.DOUBLE:
        this.count(8, 'double');
        this.pos += 8;
        return undefined;
      case T.BINARY: {
        const length = this.count(this.varint(), 'binary'); // read before pos is: the varint moves it
        this.pos += length;
        return undefined;
      }
      case T.LIST:
      case T.SET: {
        const head = this.byte();
        const n = this.count(head >> 4 === 15 ? this.varint() : head >> 4, 'list');
        const elem = head & 0x0f;
        for (let i = 0; i < n; i++) this.value(elem === T.TRUE || elem === T.FALSE ? T.BYTE : elem, depth + 1);
        return undefined;
      }
      case T.MAP: {
        const n = this.count(this.varint(), 'map');
        if (n === 0) return undefined;
        const kv = this.byte();
        for (let i = 0; i < n; i++) {
          this.value(kv >> 4, depth + 1);
          this.value(kv & 0x0f, depth + 1);
        }
        return undefined;
      }
      case T.STRUCT:
        this.struct(depth + 1);
        return undefined;
      default:
        return this.fail(`unknown Thrift type ${type}`);
    }
  }

  /** Walks a struct; returns its top-level integer fields by id. */
  struct(depth = 0): Map<number, number> {
    const ints = new Map<number, number>();
    let id = 0;
    for (;;) {
      const head = this.byte();
      const type = head & 0x0f;
      if (type === 0) return ints; // STOP
      id = head >> 4 === 0 ? this.value(T.I16, depth) ?? 0 : id + (head >> 4);
      const v = this.value(type, depth);
      if (v !== undefined) ints.set(id, v);
    }
  }
}

interface ChunkRange {
  start: number;
  size: number;
}

/**
 * Checks the footer of `bytes` (a whole parquet file), then the page headers of `chunks` (from
 * the metadata: each column chunk's first page offset and total compressed size).
 */
export function checkParquetFooter(bytes: Uint8Array, file: string): void {
  if (bytes.length < 12) return; // hyparquet says what is wrong with a file this short
  const length = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(bytes.length - 8, true);
  const start = bytes.length - 8 - length;
  if (start < 0) return; // hyparquet reports the bad footer length
  new Walker(bytes, start, bytes.length - 8, () => `${file}: footer`).struct();
}

export function checkParquetPages(bytes: Uint8Array, file: string, chunks: readonly ChunkRange[]): void {
  for (const chunk of chunks) {
    const end = Math.min(bytes.length, chunk.start + chunk.size);
    let pos = chunk.start;
    while (pos >= 0 && pos < end) {
      const w = new Walker(bytes, pos, end, () => `${file}: page header at byte ${pos}`);
      const compressedSize = w.struct().get(3) ?? 0; // PageHeader.compressed_page_size
      if (compressedSize < 0) w.fail(`a negative page size ${compressedSize}`);
      pos = w.pos + compressedSize;
    }
  }
}
