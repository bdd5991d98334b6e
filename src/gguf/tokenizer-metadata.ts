// Reads the metadata of a GGUF file (header + key/values) and nothing else: enough to build the
// tokenizer (tokenizer-from-gguf.ts) or look at a file's architecture without touching its tensor
// table. Not here: tensors (reader.ts reads the whole header, tensor table included).
//
// Layout (little-endian; https://github.com/ggml-org/ggml/blob/master/docs/gguf.md):
//   u32 magic "GGUF", u32 version (2 or 3), u64 tensor_count, u64 kv_count,
//   kv_count x { string key, u32 value_type, value }
// A string is u64 byte length + UTF-8 bytes; an array is u32 element type + u64 count + elements.

import { open } from 'node:fs/promises';
import { ErrorCode, SftError } from '../errors.js';
import { GgufErrorCode } from './errors.js';

/** A metadata value: integers as numbers (u64/i64 as bigint only beyond 2^53), arrays as JS arrays. */
export type GgufMetadataValue = number | bigint | boolean | string | GgufMetadataValue[];

const MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
/** First read, doubled until the key/values fit: most files need 1-2 MB, a 262k vocabulary 6.5 MB. */
const FIRST_READ = 4 << 20;

// Value types of the format.
const U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, BOOL = 7, STRING = 8, ARRAY = 9,
  U64 = 10, I64 = 11, F64 = 12;
/** Bytes per element of the fixed-size types, to refuse counts the file cannot hold before allocating. */
const FIXED_SIZE: Record<number, number> = {
  [U8]: 1, [I8]: 1, [U16]: 2, [I16]: 2, [U32]: 4, [I32]: 4, [F32]: 4, [BOOL]: 1, [U64]: 8, [I64]: 8, [F64]: 8,
};

/** Thrown inside the parser when the bytes read so far end before the metadata does. */
class NeedMoreBytes extends Error {}

/**
 * The metadata key/values of a GGUF file, e.g. `general.architecture`, `tokenizer.ggml.tokens`.
 * Reads from the start of the file only as far as the key/values go (a few MB for a 262k-token
 * vocabulary), never the tensors. Throws GGUF_INVALID for a file that is not GGUF v2/v3 or ends
 * inside its metadata, FILE_NOT_FOUND when it cannot be opened.
 */
export async function readGgufMetadata(path: string): Promise<Record<string, GgufMetadataValue>> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (e) {
    throw new SftError(`Cannot open GGUF file ${path}: ${(e as Error).message}`, ErrorCode.FileNotFound);
  }
  try {
    const size = (await handle.stat()).size;
    // Parse what one read brings; when the metadata goes on past it, read twice as much and parse
    // again. Re-parsing is cheaper than making every small read asynchronous.
    for (let length = Math.min(size, FIRST_READ); ; length = Math.min(size, length * 2)) {
      const bytes = Buffer.allocUnsafe(length);
      const { bytesRead } = await handle.read(bytes, 0, length, 0);
      try {
        return parseMetadata(bytes.subarray(0, bytesRead), path, bytesRead === size);
      } catch (e) {
        if (!(e instanceof NeedMoreBytes)) throw e;
        if (bytesRead >= size) throw invalid(path, 'the file ends inside its metadata');
      }
    }
  } finally {
    await handle.close();
  }
}

function invalid(path: string, what: string): SftError {
  return new SftError(`${path} is not a readable GGUF file: ${what}`, GgufErrorCode.Invalid);
}

/** Parses header + key/values from `bytes`, the file's start (all of it when `whole`). */
function parseMetadata(bytes: Buffer, path: string, whole: boolean): Record<string, GgufMetadataValue> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // Invalid UTF-8 becomes U+FFFD rather than failing the file; a leading U+FEFF is kept (Gemma has
  // tokens that start with one, which the default decoder would strip as a byte-order mark).
  const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  let pos = 0;

  const need = (n: number): void => {
    if (pos + n > bytes.length) throw whole ? invalid(path, 'the file ends inside its metadata') : new NeedMoreBytes();
  };
  const u32 = (): number => {
    need(4);
    const v = view.getUint32(pos, true);
    pos += 4;
    return v;
  };
  const u64 = (): number => {
    need(8);
    const v = view.getBigUint64(pos, true);
    pos += 8;
    // Lengths and counts: anything past 2^53 cannot fit in a file anyway.
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw invalid(path, `a length of ${v} at byte ${pos - 8}`);
    return Number(v);
  };
  const string = (): string => {
    const length = u64();
    need(length);
    const s = asciiOrDecode(bytes, pos, length, decoder);
    pos += length;
    return s;
  };
  const scalar = (type: number): GgufMetadataValue => {
    const size = FIXED_SIZE[type];
    if (size === undefined) {
      if (type === STRING) return string();
      throw invalid(path, `unknown value type ${type} at byte ${pos - 4}`);
    }
    need(size);
    const at = pos;
    pos += size;
    switch (type) {
      case U8: return view.getUint8(at);
      case I8: return view.getInt8(at);
      case U16: return view.getUint16(at, true);
      case I16: return view.getInt16(at, true);
      case U32: return view.getUint32(at, true);
      case I32: return view.getInt32(at, true);
      case F32: return view.getFloat32(at, true);
      case BOOL: return view.getUint8(at) !== 0;
      case U64: return safeInt(view.getBigUint64(at, true));
      case I64: return safeInt(view.getBigInt64(at, true));
      default: return view.getFloat64(at, true); // F64
    }
  };
  const value = (type: number): GgufMetadataValue => {
    if (type !== ARRAY) return scalar(type);
    const elementType = u32();
    const count = u64();
    // Each element takes at least one byte (8 for a string's length): refuse counts the file
    // cannot hold before allocating for them.
    const minSize = elementType === STRING || elementType === ARRAY ? 8 : (FIXED_SIZE[elementType] ?? 1);
    if (whole && count * minSize > bytes.length - pos) {
      throw invalid(path, `an array of ${count} elements at byte ${pos - 12} does not fit in the file`);
    }
    const out: GgufMetadataValue[] = new Array<GgufMetadataValue>(count);
    for (let i = 0; i < count; i++) out[i] = value(elementType);
    return out;
  };

  if (bytes.length >= 4 && view.getUint32(0, true) !== MAGIC) throw invalid(path, 'no "GGUF" magic at its start');
  need(4);
  pos = 4;
  const version = u32();
  if (version !== 2 && version !== 3) {
    throw invalid(path, `GGUF version ${version} (only versions 2 and 3 are read)`);
  }
  u64(); // tensor_count: the tensor table is not read here
  const kvCount = u64();
  const metadata: Record<string, GgufMetadataValue> = {};
  for (let i = 0; i < kvCount; i++) {
    const key = string();
    metadata[key] = value(u32());
  }
  return metadata;
}

function safeInt(v: bigint): number | bigint {
  return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v;
}

/** Most tokens are short ASCII; building those directly is several times faster than TextDecoder. */
function asciiOrDecode(bytes: Buffer, start: number, length: number, decoder: TextDecoder): string {
  if (length > 64) return decoder.decode(bytes.subarray(start, start + length));
  let s = '';
  for (let i = start; i < start + length; i++) {
    const b = bytes[i]!;
    if (b >= 0x80) return decoder.decode(bytes.subarray(start, start + length));
    s += String.fromCharCode(b);
  }
  return s;
}
