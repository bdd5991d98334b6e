// Writes a GGUF v3 file: the header, typed metadata, the tensor table, and each tensor's bytes
// aligned to 32, the layout reader.ts reads (https://github.com/ggml-org/ggml/blob/master/docs/gguf.md).
// Tensor data is produced one tensor at a time by the caller, so a model never sits whole in
// memory; the file is written under a temporary name and renamed into place when complete.
// Not here: what the tensors or keys are (export.ts, metadata.ts), how blocks are encoded (quantize-*.ts).

import { open, rename, rm } from 'node:fs/promises';
import { SftError } from '../../errors.js';
import { tempPathFor } from '../../engine/atomic-write.js';
import { GgufErrorCode } from '../errors.js';
import { ggmlType, ggmlTypeName } from '../ggml-types.js';

/** A metadata value with its GGUF type (the reader gives back plain numbers, so the writer is told). */
export type GgufMetaValue =
  | { type: 'u32' | 'i32' | 'f32' | 'u64'; value: number }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | { type: 'array'; itemType: 'string'; value: readonly string[] }
  | { type: 'array'; itemType: 'i32' | 'f32' | 'u32'; value: ArrayLike<number> };

export interface GgufTensorSpec {
  name: string;
  /** GGUF order: ne0 (the contiguous dimension) first. */
  shape: number[];
  /** ggml type id. */
  type: number;
}

const ALIGNMENT = 32;
const VALUE_TYPE = { u32: 4, i32: 5, f32: 6, bool: 7, string: 8, array: 9, u64: 10 } as const;

/** Bytes of a tensor of `type` and `shape`; rows must be whole blocks. */
export function tensorByteSize(t: GgufTensorSpec): number {
  const info = ggmlType(t.type);
  if (!info) throw new SftError(`tensor ${t.name}: unknown ggml type ${t.type}`, GgufErrorCode.Invalid);
  const ne0 = t.shape[0]!;
  if (ne0 % info.blockSize !== 0) {
    throw new SftError(`tensor ${t.name}: rows of ${ne0} values are not whole ${ggmlTypeName(t.type)} blocks of ${info.blockSize}`, GgufErrorCode.Invalid);
  }
  const rows = t.shape.slice(1).reduce((a, b) => a * b, 1);
  return (ne0 / info.blockSize) * info.typeSize * rows;
}

/** Little-endian bytes appended to a growing buffer. */
class ByteSink {
  private chunks: Buffer[] = [];
  length = 0;
  push(b: Buffer): void {
    this.chunks.push(b);
    this.length += b.length;
  }
  u32(v: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    this.push(b);
  }
  i32(v: number): void {
    const b = Buffer.alloc(4);
    b.writeInt32LE(v);
    this.push(b);
  }
  f32(v: number): void {
    const b = Buffer.alloc(4);
    b.writeFloatLE(v);
    this.push(b);
  }
  u64(v: number): void {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(v));
    this.push(b);
  }
  string(s: string): void {
    const bytes = Buffer.from(s, 'utf8');
    this.u64(bytes.length);
    this.push(bytes);
  }
  bytes(): Buffer {
    return Buffer.concat(this.chunks, this.length);
  }
}

function writeScalar(sink: ByteSink, type: 'u32' | 'i32' | 'f32' | 'u64' | 'string', v: number | string): void {
  if (type === 'string') sink.string(v as string);
  else sink[type](v as number);
}

function writeValue(sink: ByteSink, key: string, v: GgufMetaValue): void {
  sink.u32(VALUE_TYPE[v.type]);
  if (v.type === 'bool') {
    sink.push(Buffer.from([v.value ? 1 : 0]));
  } else if (v.type === 'array') {
    sink.u32(VALUE_TYPE[v.itemType]);
    sink.u64(v.value.length);
    for (let i = 0; i < v.value.length; i++) writeScalar(sink, v.itemType, v.value[i]!);
  } else {
    if (v.type !== 'string' && !Number.isFinite(v.value)) throw new SftError(`metadata ${key} is ${v.value}, not a number`, GgufErrorCode.Invalid);
    writeScalar(sink, v.type, v.value);
  }
}

/** Header, metadata and tensor table, padded to the data section. */
export function ggufHeader(metadata: ReadonlyArray<readonly [string, GgufMetaValue]>, tensors: readonly GgufTensorSpec[]): { header: Buffer; offsets: number[]; sizes: number[] } {
  const sink = new ByteSink();
  sink.push(Buffer.from('GGUF', 'latin1'));
  sink.u32(3);
  sink.u64(tensors.length);
  sink.u64(metadata.length);
  for (const [key, value] of metadata) {
    sink.string(key);
    writeValue(sink, key, value);
  }
  const offsets: number[] = [];
  const sizes: number[] = [];
  let offset = 0;
  for (const t of tensors) {
    sink.string(t.name);
    sink.u32(t.shape.length);
    for (const d of t.shape) sink.u64(d);
    sink.u32(t.type);
    sink.u64(offset);
    const size = tensorByteSize(t);
    offsets.push(offset);
    sizes.push(size);
    offset += Math.ceil(size / ALIGNMENT) * ALIGNMENT;
  }
  const pad = (ALIGNMENT - (sink.length % ALIGNMENT)) % ALIGNMENT;
  sink.push(Buffer.alloc(pad));
  return { header: sink.bytes(), offsets, sizes };
}

/**
 * Writes `path`: `encode(i)` gives tensor i's bytes (exactly its type's size), called in order.
 * A failure leaves no file at `path` (nor the temporary one).
 */
export async function writeGgufFile(
  path: string,
  metadata: ReadonlyArray<readonly [string, GgufMetaValue]>,
  tensors: readonly GgufTensorSpec[],
  encode: (index: number) => Promise<Uint8Array>,
): Promise<{ bytes: number }> {
  const { header, sizes } = ggufHeader(metadata, tensors);
  const temp = tempPathFor(path);
  const fh = await open(temp, 'w');
  let pos = 0;
  try {
    await fh.write(header, 0, header.length, pos);
    pos += header.length;
    for (let i = 0; i < tensors.length; i++) {
      const data = await encode(i);
      if (data.byteLength !== sizes[i]) {
        throw new SftError(`tensor ${tensors[i]!.name}: encoded ${data.byteLength} bytes, its type and shape need ${sizes[i]}`, GgufErrorCode.Invalid);
      }
      await fh.write(data, 0, data.byteLength, pos);
      pos += data.byteLength;
      const pad = (ALIGNMENT - (pos % ALIGNMENT)) % ALIGNMENT;
      if (pad > 0) {
        await fh.write(Buffer.alloc(pad), 0, pad, pos);
        pos += pad;
      }
    }
    await fh.close();
  } catch (err) {
    await fh.close().catch(() => {});
    await rm(temp, { force: true });
    throw err;
  }
  await rename(temp, path);
  return { bytes: pos };
}
