// The bytes of a TensorBoard event file, written by hand (no TensorFlow, no protobuf library):
// TFRecord framing (tensorflow/core/lib/io/record_writer.cc) around tensorflow.Event protobufs
// (tensorflow/core/util/event.proto, summary.proto). Only what scalars need is encoded:
//
//   record   = uint64 LE length | uint32 LE masked_crc32c(length bytes) | data | uint32 LE masked_crc32c(data)
//   Event    = 1: wall_time (double) | 2: step (int64) | 3: file_version (string) | 5: summary | 7: session_log
//   Summary  = 1: repeated Value;  Value = 1: tag (string) | 2: simple_value (float)
//   SessionLog = 1: status (enum, START = 1)
//
// Not for: reading event files (the test reads them back with tensorboard's own reader).

/** CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as TFRecord checksums use it. */
const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

export function crc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const b of bytes) crc = (CRC32C_TABLE[(crc ^ b) & 0xff] as number) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** TFRecord's masked CRC: rotate right by 15 bits, add a constant (so a CRC of CRCs is not trivial). */
export function maskedCrc32c(bytes: Uint8Array): number {
  const crc = crc32c(bytes);
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

/** One TFRecord around `data`. */
export function tfRecord(data: Uint8Array): Buffer {
  const header = Buffer.alloc(12);
  header.writeBigUInt64LE(BigInt(data.length), 0);
  header.writeUInt32LE(maskedCrc32c(header.subarray(0, 8)), 8);
  const footer = Buffer.alloc(4);
  footer.writeUInt32LE(maskedCrc32c(data), 0);
  return Buffer.concat([header, data, footer]);
}

// --- protobuf wire format: varint (0), 64-bit (1), length-delimited (2), 32-bit (5) ---

function varint(value: number): Buffer {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`varint: expected a non-negative safe integer, got ${value}`);
  const bytes: number[] = [];
  let v = value;
  while (v >= 0x80) {
    bytes.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  bytes.push(v);
  return Buffer.from(bytes);
}

const key = (field: number, wireType: number): Buffer => varint(field * 8 + wireType);

function lengthDelimited(field: number, payload: Uint8Array): Buffer {
  return Buffer.concat([key(field, 2), varint(payload.length), payload]);
}

function double(field: number, value: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(value, 0);
  return Buffer.concat([key(field, 1), b]);
}

function float(field: number, value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeFloatLE(value, 0);
  return Buffer.concat([key(field, 5), b]);
}

/** Summary { value: [{tag, simple_value}, ...] }. */
function scalarSummary(scalars: Record<string, number>): Buffer {
  return Buffer.concat(
    Object.entries(scalars).map(([tag, value]) => lengthDelimited(1, Buffer.concat([lengthDelimited(1, Buffer.from(tag, 'utf8')), float(2, value)]))),
  );
}

export type EventBody = { fileVersion: string } | { scalars: Record<string, number> } | { sessionStart: true };

/** An Event message: wall time (seconds), step, and one of a file version, scalars or a session start. */
export function encodeEvent(wallTime: number, step: number, body: EventBody): Buffer {
  const parts = [double(1, wallTime), key(2, 0), varint(step)];
  if ('fileVersion' in body) parts.push(lengthDelimited(3, Buffer.from(body.fileVersion, 'utf8')));
  else if ('scalars' in body) parts.push(lengthDelimited(5, scalarSummary(body.scalars)));
  else parts.push(lengthDelimited(7, Buffer.concat([key(1, 0), varint(1)])));
  return Buffer.concat(parts);
}
