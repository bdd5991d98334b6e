// A GGUF import writes its weights off the event loop: during the write of a shard of several
// hundred MB, timers keep firing. The shard is written under a temporary name and renamed into
// place (native/core/safetensors.cpp), so a timer that sees the temporary file ran while the
// write was in progress; a write on the event loop would leave no such moment to observe.
//
// The file: a tiny llama.cpp-style GGUF (test/fixtures/gguf/tiny) whose token embedding is
// replaced by a float32 one with a vocabulary large enough for a ~300 MB shard. The tiny files
// carry no tokenizer, so the test runs the import's weight step (planConversion + writeWeights,
// what importGgufFile runs before the small tokenizer and config files).
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { planConversion, writeWeights } from '../../src/gguf/convert.js';
import { readGguf } from '../../src/gguf/reader.js';

const TINY = join(import.meta.dirname, '..', 'fixtures', 'gguf', 'tiny', 'qwen2-tied.gguf');
const SHARD_BYTES = 300 * 1024 * 1024;
const GGML_F32 = 0;
const work = mkdtempSync(join(tmpdir(), 'nq-gguf-loop-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v);
  return b;
}
function u64(v: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(v));
  return b;
}
function ggufString(s: string): Buffer {
  return Buffer.concat([u64(Buffer.byteLength(s)), Buffer.from(s)]);
}
const align = (n: number, a: number): number => Math.ceil(n / a) * a;

/** The tiny file with token_embd.weight replaced by a float32 [hidden, vocab] tensor of about `bytes`. */
async function bigGguf(bytes: number): Promise<string> {
  const src = await readGguf(TINY);
  const raw = readFileSync(TINY);
  // The metadata section is kept byte for byte: it ends where the first tensor info begins.
  const first = src.tensors[0]!;
  const kvEnd = raw.indexOf(ggufString(first.name), 24);
  expect(kvEnd).toBeGreaterThan(24);
  const embed = src.tensors.find((t) => t.name === 'token_embd.weight')!;
  const hidden = embed.shape[0]!;
  const vocab = Math.ceil(bytes / 4 / hidden);
  const tensors = src.tensors.map((t) =>
    t === embed ? { name: t.name, shape: [hidden, vocab], type: GGML_F32, bytes: hidden * vocab * 4, data: null } : { ...t, data: raw.subarray(t.offset, t.offset + t.bytes) },
  );
  const infos: Buffer[] = [];
  let offset = 0;
  for (const t of tensors) {
    infos.push(ggufString(t.name), u32(t.shape.length), ...t.shape.map(u64), u32(t.type), u64(offset));
    offset = align(offset + t.bytes, src.alignment);
  }
  const head = Buffer.concat([raw.subarray(0, kvEnd), ...infos]);
  const file = join(work, 'big.gguf');
  const fd = openSync(file, 'w');
  try {
    writeSync(fd, head);
    writeSync(fd, Buffer.alloc(align(head.length, src.alignment) - head.length));
    for (const t of tensors) {
      const data = t.data ?? Buffer.alloc(t.bytes); // the embedding's values do not matter here
      writeSync(fd, data);
      writeSync(fd, Buffer.alloc(align(data.length, src.alignment) - data.length));
    }
  } finally {
    closeSync(fd);
  }
  return file;
}

describe('GGUF import and the event loop', () => {
  it('timers keep firing while a ~300 MB shard is being written', async () => {
    const file = await bigGguf(SHARD_BYTES);
    const out = join(work, 'imported');
    let ticks = 0;
    let ticksDuringWrite = 0;
    const timer = setInterval(() => {
      ticks++;
      try {
        if (readdirSync(out).some((f) => f.startsWith('model.safetensors.tmp-'))) ticksDuringWrite++;
      } catch {
        // the folder does not exist yet
      }
    }, 1);
    try {
      const result = await writeWeights(await planConversion(await readGguf(file), 'float32'), out);
      expect(result.files).toEqual(['model.safetensors']);
      expect(result.bytes).toBeGreaterThan(SHARD_BYTES);
    } finally {
      clearInterval(timer);
    }
    expect(statSync(join(out, 'model.safetensors')).size).toBeGreaterThan(SHARD_BYTES);
    expect(readdirSync(out).filter((f) => f.includes('.tmp-'))).toEqual([]);
    expect(ticks).toBeGreaterThan(0);
    expect(ticksDuringWrite).toBeGreaterThan(0);
  }, 120_000);
});
