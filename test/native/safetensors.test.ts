// The safetensors reader/writer through the addon: round trips for every dtype, interop with
// the official Python library both ways, sharded checkpoints, and a corpus of malformed files
// that must each fail with a specific ST_* code naming the file and the tensor at fault.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SftError } from '../../src/errors.js';
import { expectSftError } from '../helpers/errors.js';
import { NEED, skipWithout } from '../helpers/skip.js';
import { native, type NativeSafetensors, type StDtype, type StTensorData } from '../../src/native.js';

// checkpointNames is a test/development entry point not yet in the NativeSafetensors interface.
type Safetensors = NativeSafetensors & { checkpointNames(dir: string): string[] };
const st = (): Safetensors => native().safetensors as Safetensors;

/** write() returns a promise: its errors (bad arguments included) reject it, never throw. */
async function expectRejected(pending: Promise<unknown>, code: string, ...mentions: string[]): Promise<void> {
  const err = await pending.then(
    () => new Error('expected the promise to reject'),
    (e: unknown) => e,
  );
  expectSftError(() => {
    throw err;
  }, code, ...mentions);
}

const here = dirname(fileURLToPath(import.meta.url));
const fixtures = join(here, '..', 'fixtures', 'safetensors');

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'nq-safetensors-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function bytesOf(view: ArrayBufferView): Buffer {
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength);
}

/** One tensor of each dtype plus 0-d and empty ones; values chosen to exercise sign and range. */
function sampleTensors(): Record<string, StTensorData> {
  return {
    // U8 first so the F32 after it starts at an odd offset: the reader must copy, not view.
    'odd.u8': { dtype: 'U8', shape: [3], data: bytesOf(new Uint8Array([0, 200, 255])) },
    'odd.after_u8_f32': { dtype: 'F32', shape: [2], data: bytesOf(new Float32Array([1.25, -7])) },
    'w.f32': { dtype: 'F32', shape: [2, 3], data: bytesOf(new Float32Array([0, -1.5, 3.25, 1e30, -0, Number.NaN])) },
    'w.f16': { dtype: 'F16', shape: [3], data: bytesOf(new Uint16Array([0x3c00, 0xc000, 0x7bff])) },
    'w.bf16': { dtype: 'BF16', shape: [2, 2], data: bytesOf(new Uint16Array([0x3f80, 0xbf80, 0x7f7f, 0x0001])) },
    'ids.i8': { dtype: 'I8', shape: [4], data: bytesOf(new Int8Array([-128, -1, 0, 127])) },
    'ids.i32': { dtype: 'I32', shape: [1, 3], data: bytesOf(new Int32Array([-2147483648, 5, 2147483647])) },
    'ids.i64': {
      dtype: 'I64',
      shape: [3],
      data: bytesOf(new BigInt64Array([-(2n ** 63n), 2n ** 53n + 1n, 2n ** 63n - 1n])),
    },
    'mask.bool': { dtype: 'BOOL', shape: [2, 2], data: bytesOf(new Uint8Array([1, 0, 0, 1])) },
    scalar: { dtype: 'F32', shape: [], data: bytesOf(new Float32Array([42.5])) },
    'empty.f32': { dtype: 'F32', shape: [0, 3], data: Buffer.alloc(0) },
    'empty.i64': { dtype: 'I64', shape: [2, 0, 5], data: Buffer.alloc(0) },
  };
}


describe('safetensors round trip', () => {
  it('writes every dtype, 0-d and empty tensors and metadata, and reads them back byte for byte', async () => {
    const path = join(dir, 'roundtrip.safetensors');
    const tensors = sampleTensors();
    const metadata = { format: 'pt', 'quote"and\\slash': 'line\nbreak \u00e9 \u{1F600}' };
    await st().write(path, tensors, metadata);

    const { tensors: infos, metadata: readMetadata } = st().inspect(path);
    expect(readMetadata).toEqual(metadata);
    expect(infos.map((t) => t.name)).toEqual(Object.keys(tensors));
    let offset = 0;
    for (const info of infos) {
      const want = tensors[info.name]!;
      expect(info.dtype).toBe(want.dtype);
      expect(info.shape).toEqual(want.shape);
      expect(info.begin).toBe(offset);
      expect(info.end).toBe(offset + want.data.length);
      offset = info.end;

      const got = st().read(path, info.name);
      expect(got.dtype).toBe(want.dtype);
      expect(got.shape).toEqual(want.shape);
      expect(Buffer.isBuffer(got.data)).toBe(true);
      expect(got.data.equals(want.data), info.name).toBe(true);
    }

    // Layout: u64 header length (a multiple of 8), header, then exactly the data.
    const file = readFileSync(path);
    const headerLength = Number(file.readBigUInt64LE(0));
    expect(headerLength % 8).toBe(0);
    expect(file.length).toBe(8 + headerLength + offset);
    expect(readdirSync(dir).filter((f) => f.startsWith('roundtrip'))).toEqual(['roundtrip.safetensors']);
  });

  it('writes a file without metadata and with no tensors at all', async () => {
    const path = join(dir, 'nothing.safetensors');
    await st().write(path, {});
    expect(st().inspect(path)).toEqual({ tensors: [], metadata: {} });
    expect(readFileSync(path).subarray(8).toString().trim()).toBe('{}');
  });

  it('accepts typed arrays at unaligned offsets and replaces an existing file atomically', async () => {
    const path = join(dir, 'replace.safetensors');
    await st().write(path, { a: { dtype: 'I32', shape: [1], data: bytesOf(new Int32Array([1])) } });
    const backing = Buffer.alloc(13);
    const unaligned = backing.subarray(1); // 12 bytes at an odd address
    new DataView(unaligned.buffer, unaligned.byteOffset).setFloat32(4, 2.5, true);
    await st().write(path, { b: { dtype: 'F32', shape: [3], data: unaligned } });
    expect(st().inspect(path).tensors.map((t) => t.name)).toEqual(['b']);
    expect(st().read(path, 'b').data.equals(unaligned)).toBe(true);
    expect(readdirSync(dir).filter((f) => f.startsWith('replace'))).toEqual(['replace.safetensors']);
  });

  it('names the file and tensor when a tensor is missing, and the path when it cannot be opened', async () => {
    const path = join(dir, 'missing.safetensors');
    await st().write(path, { present: { dtype: 'U8', shape: [1], data: Buffer.from([7]) } });
    expectSftError(() => st().read(path, 'absent'), 'ST_MISSING', 'missing.safetensors', 'absent');
    expectSftError(() => st().inspect(join(dir, 'no-such-file.safetensors')), 'ST_IO', 'no-such-file.safetensors');
    expectSftError(() => st().inspect(dir), 'ST_IO', dir);
    await expectRejected(
      st().write(join(dir, 'no-such-dir', 'x.safetensors'), {}),
      'ST_IO',
      join('no-such-dir', 'x.safetensors'),
    );
  });

  it('rejects bad JS arguments to write with INVALID_ARGUMENT naming the tensor', async () => {
    const path = join(dir, 'invalid-args.safetensors');
    const good = { dtype: 'F32', shape: [2], data: Buffer.alloc(8) };
    const cases: Array<[string, unknown]> = [
      ['bad dtype', { ...good, dtype: 'F64' }],
      ['dtype not a string', { ...good, dtype: 4 }],
      ['negative dim', { ...good, shape: [-2] }],
      ['fractional dim', { ...good, shape: [1.5] }],
      ['string dim', { ...good, shape: ['2'] }],
      ['shape not an array', { ...good, shape: 2 }],
      ['short data', { ...good, data: Buffer.alloc(7) }],
      ['data not bytes', { ...good, data: [0, 0, 0, 0, 0, 0, 0, 0] }],
      ['not an object', 3],
    ];
    for (const [tensorName, value] of cases) {
      const tensors = { [tensorName]: value } as unknown as Record<string, StTensorData>;
      await expectRejected(st().write(path, tensors), 'INVALID_ARGUMENT', tensorName);
    }
    await expectRejected(
      st().write(path, { ok: good as StTensorData }, { n: 1 } as unknown as Record<string, string>),
      'INVALID_ARGUMENT',
      '"n"',
    );
    await expectRejected(
      st().write(path, { __metadata__: good as StTensorData }),
      'INVALID_ARGUMENT',
      '__metadata__',
    );
    expect(() => statSync(path)).toThrow();
  });
});

describe('safetensors interop with the Python library', () => {
  it('reads a file written by safetensors.torch.save_file with identical bytes', () => {
    const expected = JSON.parse(readFileSync(join(fixtures, 'python_reference.json'), 'utf8')) as {
      metadata: Record<string, string>;
      tensors: Record<string, { dtype: StDtype; shape: number[]; hex: string }>;
    };
    const path = join(fixtures, 'python_reference.safetensors');
    const { tensors, metadata } = st().inspect(path);
    expect(metadata).toEqual(expected.metadata);
    expect(tensors.map((t) => t.name).sort()).toEqual(Object.keys(expected.tensors).sort());
    for (const [name, want] of Object.entries(expected.tensors)) {
      const got = st().read(path, name);
      expect(got.dtype, name).toBe(want.dtype);
      expect(got.shape, name).toEqual(want.shape);
      expect(got.data.toString('hex'), name).toBe(want.hex);
    }
  });

  const python = spawnSync('python3', ['-c', 'import safetensors, torch'], { encoding: 'utf8' });
  const pythonReady = python.status === 0;
  it.skipIf(skipWithout(pythonReady, 'safetensors in Python loads our file', NEED.pythonReference))('a file we write loads in Python identically', async () => {
    const path = join(dir, 'for-python.safetensors');
    const tensors = sampleTensors();
    const metadata = { source: 'node-qlora', 'unicode \u00e9': '\u{1F600}' };
    await st().write(path, tensors, metadata);
    const script = [
      'import json, sys, torch',
      'from safetensors import safe_open',
      'names = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.uint8: "U8",',
      '         torch.int8: "I8", torch.int32: "I32", torch.int64: "I64", torch.bool: "BOOL"}',
      'out = {"tensors": {}}',
      'with safe_open(sys.argv[1], framework="pt") as f:',
      '    out["metadata"] = f.metadata()',
      '    for name in f.keys():',
      '        t = f.get_tensor(name)',
      '        flat = t.contiguous().reshape(-1)',
      '        raw = flat.view(torch.uint8).numpy().tobytes().hex() if flat.numel() else ""',
      '        out["tensors"][name] = {"dtype": names[t.dtype], "shape": list(t.shape), "hex": raw}',
      'print(json.dumps(out))',
    ].join('\n');
    const run = spawnSync('python3', ['-c', script, path], { encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    const loaded = JSON.parse(run.stdout) as {
      metadata: Record<string, string>;
      tensors: Record<string, { dtype: string; shape: number[]; hex: string }>;
    };
    expect(loaded.metadata).toEqual(metadata);
    expect(Object.keys(loaded.tensors).sort()).toEqual(Object.keys(tensors).sort());
    for (const [name, want] of Object.entries(tensors)) {
      expect(loaded.tensors[name], name).toEqual({
        dtype: want.dtype,
        shape: want.shape,
        hex: want.data.toString('hex'),
      });
    }
  });
});

describe('safetensors checkpoints', () => {
  const u8 = (n: number): StTensorData => ({ dtype: 'U8', shape: [1], data: Buffer.from([n]) });

  function shardedDir(name: string, weightMap: Record<string, string>): string {
    const ckpt = join(dir, name);
    mkdirSync(ckpt);
    writeFileSync(join(ckpt, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: 3 }, weight_map: weightMap }));
    return ckpt;
  }

  it('lists the tensors of a sharded checkpoint through its index, whatever the shards are called', async () => {
    const ckpt = shardedDir('sharded', { 'b.weight': 'first part.st', 'a.weight': 'first part.st', 'c.bias': 'weights-2.bin' });
    await st().write(join(ckpt, 'first part.st'), { 'a.weight': u8(1), 'b.weight': u8(2) });
    await st().write(join(ckpt, 'weights-2.bin'), { 'c.bias': u8(3) });
    expect(st().checkpointNames(ckpt)).toEqual(['a.weight', 'b.weight', 'c.bias']);
  });

  it('falls back to model.safetensors', async () => {
    const ckpt = join(dir, 'single');
    mkdirSync(ckpt);
    await st().write(join(ckpt, 'model.safetensors'), { z: u8(1), y: u8(2) });
    expect(st().checkpointNames(ckpt)).toEqual(['y', 'z']);
  });

  it('names the directory and both files it looked for when neither exists', () => {
    const ckpt = join(dir, 'no-checkpoint');
    mkdirSync(ckpt);
    expectSftError(() => st().checkpointNames(ckpt), 'ST_IO', ckpt, 'model.safetensors.index.json', 'model.safetensors');
  });

  it('rejects an index naming a missing shard, naming the shard', async () => {
    const ckpt = shardedDir('missing-shard', { a: 'model-00001-of-00002.safetensors', b: 'model-00002-of-00002.safetensors' });
    await st().write(join(ckpt, 'model-00001-of-00002.safetensors'), { a: u8(1) });
    expectSftError(() => st().checkpointNames(ckpt), 'ST_INDEX', 'model-00002-of-00002.safetensors');
  });

  it('rejects an index listing a tensor its shard lacks, naming the tensor', async () => {
    const ckpt = shardedDir('stale-index', { a: 'shard.safetensors', ghost: 'shard.safetensors' });
    await st().write(join(ckpt, 'shard.safetensors'), { a: u8(1) });
    expectSftError(() => st().checkpointNames(ckpt), 'ST_INDEX', 'ghost', 'shard.safetensors');
  });

  it('rejects an unreadable index', () => {
    const ckpt = join(dir, 'bad-index');
    mkdirSync(ckpt);
    writeFileSync(join(ckpt, 'model.safetensors.index.json'), '{"weight_map": {"a": ');
    expectSftError(() => st().checkpointNames(ckpt), 'ST_INDEX', 'model.safetensors.index.json');
    writeFileSync(join(ckpt, 'model.safetensors.index.json'), '{"weight_map": {"a": 3}}');
    expectSftError(() => st().checkpointNames(ckpt), 'ST_INDEX', '"a"');
  });

  it('reports a malformed shard with its own code and path', () => {
    const ckpt = shardedDir('bad-shard', { a: 'broken.safetensors' });
    writeFileSync(join(ckpt, 'broken.safetensors'), Buffer.alloc(3));
    expectSftError(() => st().checkpointNames(ckpt), 'ST_HEADER_LENGTH', 'broken.safetensors');
  });
});

// ---- malformed corpus ------------------------------------------------------------------------

/** Bytes of a safetensors file: u64 LE header length (overridable), header, data. */
function stFile(header: string | Buffer | object, data: Buffer | number = 0, headerLength?: bigint): Buffer {
  const json =
    typeof header === 'string'
      ? Buffer.from(header, 'utf8')
      : Buffer.isBuffer(header)
        ? header
        : Buffer.from(JSON.stringify(header), 'utf8');
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(headerLength ?? BigInt(json.length));
  return Buffer.concat([length, json, typeof data === 'number' ? Buffer.alloc(data) : data]);
}

const f32 = (shape: unknown, offsets: unknown) => ({ dtype: 'F32', shape, data_offsets: offsets });

interface BadCase {
  name: string;
  bytes: Buffer;
  code: string;
  /** Further text the message must contain: the tensor at fault, a dtype... */
  mentions?: string[];
}

const badCases: BadCase[] = [
  { name: 'empty file', bytes: Buffer.alloc(0), code: 'ST_HEADER_LENGTH' },
  { name: '7-byte file', bytes: Buffer.alloc(7, 1), code: 'ST_HEADER_LENGTH' },
  { name: 'header length beyond the file', bytes: stFile({ w: f32([1], [0, 4]) }, 4, 1000n), code: 'ST_HEADER_LENGTH' },
  { name: 'header length 2^64-1', bytes: stFile('{}', 0, 2n ** 64n - 1n), code: 'ST_HEADER_LENGTH' },
  { name: 'invalid JSON', bytes: stFile('{"w": {"dtype": "F32",', 0), code: 'ST_HEADER_JSON', mentions: ['byte'] },
  { name: 'trailing garbage after JSON', bytes: stFile('{} x'), code: 'ST_HEADER_JSON' },
  { name: 'JSON array header', bytes: stFile('[]'), code: 'ST_HEADER_JSON', mentions: ['array'] },
  { name: 'nesting 100000 deep', bytes: stFile('['.repeat(100000)), code: 'ST_HEADER_JSON' },
  { name: 'entry not an object', bytes: stFile({ 'wq.entry': 5 }), code: 'ST_HEADER_JSON', mentions: ['wq.entry'] },
  {
    name: 'missing dtype',
    bytes: stFile({ 'no.dtype': { shape: [1], data_offsets: [0, 4] } }, 4),
    code: 'ST_HEADER_JSON',
    mentions: ['no.dtype', 'dtype'],
  },
  {
    name: 'missing shape',
    bytes: stFile({ 'no.shape': { dtype: 'F32', data_offsets: [0, 4] } }, 4),
    code: 'ST_HEADER_JSON',
    mentions: ['no.shape', 'shape'],
  },
  {
    name: 'missing data_offsets',
    bytes: stFile({ 'no.offsets': { dtype: 'F32', shape: [1] } }, 4),
    code: 'ST_HEADER_JSON',
    mentions: ['no.offsets', 'data_offsets'],
  },
  {
    name: 'unknown key in an entry',
    bytes: stFile({ 'extra.key': { ...f32([1], [0, 4]), offset: 0 } }, 4),
    code: 'ST_HEADER_JSON',
    mentions: ['extra.key', 'offset'],
  },
  {
    name: 'unknown dtype F8_E9',
    bytes: stFile({ 'odd.dtype': { dtype: 'F8_E9', shape: [1], data_offsets: [0, 1] } }, 1),
    code: 'ST_DTYPE',
    mentions: ['odd.dtype', 'F8_E9', 'F32, F16, BF16, U8, I8, I32, I64, BOOL'],
  },
  { name: 'negative dim', bytes: stFile({ 'neg.dim': f32([-1], [0, 0]) }), code: 'ST_SHAPE', mentions: ['neg.dim', '-1'] },
  { name: 'fractional dim', bytes: stFile({ 'frac.dim': f32([1.5], [0, 4]) }, 4), code: 'ST_SHAPE', mentions: ['frac.dim', '1.5'] },
  { name: 'string dim', bytes: stFile({ 'str.dim': f32(['1'], [0, 4]) }, 4), code: 'ST_SHAPE', mentions: ['str.dim'] },
  { name: 'shape not a list', bytes: stFile({ 'scalar.shape': f32(1, [0, 4]) }, 4), code: 'ST_SHAPE', mentions: ['scalar.shape'] },
  { name: 'data_offsets with 1 entry', bytes: stFile({ 'one.offset': f32([1], [4]) }, 4), code: 'ST_OUT_OF_RANGE', mentions: ['one.offset'] },
  {
    name: 'data_offsets with 3 entries',
    bytes: stFile({ 'three.offsets': f32([1], [0, 4, 8]) }, 4),
    code: 'ST_OUT_OF_RANGE',
    mentions: ['three.offsets'],
  },
  { name: 'begin > end', bytes: stFile({ 'backwards': f32([0], [4, 0]) }, 4), code: 'ST_OUT_OF_RANGE', mentions: ['backwards'] },
  { name: 'end beyond the data', bytes: stFile({ 'too.far': f32([2], [0, 8]) }, 4), code: 'ST_OUT_OF_RANGE', mentions: ['too.far'] },
  {
    name: 'end at 2^64-1, kept exact',
    bytes: stFile('{"huge.end": {"dtype": "U8", "shape": [1], "data_offsets": [0, 18446744073709551615]}}', 1),
    code: 'ST_OUT_OF_RANGE',
    mentions: ['huge.end', '18446744073709551615'],
  },
  {
    name: 'end beyond uint64',
    bytes: stFile('{"past.u64": {"dtype": "U8", "shape": [1], "data_offsets": [0, 18446744073709551616]}}', 1),
    code: 'ST_OUT_OF_RANGE',
    mentions: ['past.u64'],
  },
  { name: 'shape x size mismatch', bytes: stFile({ 'wrong.size': f32([2], [0, 4]) }, 4), code: 'ST_SIZE_MISMATCH', mentions: ['wrong.size'] },
  {
    name: 'overflowing shape product',
    bytes: stFile({ 'huge.shape': f32([4294967296, 4294967296], [0, 4]) }, 4),
    code: 'ST_SIZE_MISMATCH',
    mentions: ['huge.shape', 'overflow'],
  },
  {
    name: 'overlapping tensors',
    bytes: stFile({ 'first.t': f32([2], [0, 8]), 'second.t': f32([2], [4, 12]) }, 12),
    code: 'ST_OVERLAP',
    mentions: ['first.t', 'second.t'],
  },
  {
    name: 'empty tensor inside another',
    bytes: stFile({ 'outer.t': f32([2], [0, 8]), 'inner.t': f32([0], [4, 4]) }, 8),
    code: 'ST_OVERLAP',
    mentions: ['outer.t', 'inner.t'],
  },
  {
    name: 'hole between tensors',
    bytes: stFile({ 'before.hole': f32([1], [0, 4]), 'after.hole': f32([1], [8, 12]) }, 12),
    code: 'ST_HOLE',
    mentions: ['after.hole', '[4, 8)'],
  },
  { name: 'trailing bytes after the last tensor', bytes: stFile({ 'last.t': f32([1], [0, 4]) }, 8), code: 'ST_HOLE', mentions: ['last.t'] },
  { name: 'data but no tensors', bytes: stFile({}, 4), code: 'ST_HOLE' },
  {
    name: 'duplicate tensor names',
    bytes: stFile(
      '{"dup.t": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "dup.t": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}',
      8,
    ),
    code: 'ST_HEADER_JSON',
    mentions: ['dup.t'],
  },
  {
    name: '__metadata__ with a non-string value',
    bytes: stFile({ __metadata__: { 'bad.meta': 1 }, w: f32([1], [0, 4]) }, 4),
    code: 'ST_HEADER_JSON',
    mentions: ['__metadata__', 'bad.meta'],
  },
  {
    name: 'non-UTF-8 header bytes',
    bytes: stFile(
      Buffer.concat([Buffer.from('{"bad'), Buffer.from([0xff, 0xfe]), Buffer.from('name": {"dtype": "U8", "shape": [0], "data_offsets": [0, 0]}}')]),
    ),
    code: 'ST_HEADER_JSON',
    mentions: ['UTF-8'],
  },
  {
    name: 'lone surrogate escape',
    bytes: stFile('{"lone\\ud800": {"dtype": "U8", "shape": [0], "data_offsets": [0, 0]}}'),
    code: 'ST_HEADER_JSON',
    mentions: ['surrogate'],
  },
];

describe('safetensors malformed corpus', () => {
  for (const bad of badCases) {
    it(`rejects ${bad.name} with ${bad.code}`, () => {
      const fileName = `${bad.name.replace(/[^a-z0-9]+/gi, '-')}.safetensors`;
      const path = join(dir, fileName);
      writeFileSync(path, bad.bytes);
      expectSftError(() => st().inspect(path), bad.code, fileName, ...(bad.mentions ?? []));
      expectSftError(() => st().read(path, 'w'), bad.code, fileName);
    });
  }

  it('decodes escapes and surrogate pairs in names and metadata, and keeps offsets exact', () => {
    const path = join(dir, 'escapes.safetensors');
    const header =
      '{"__metadata__": {"k\\n": "caf\\u00e9 \\ud83d\\ude00 \\"q\\" \\\\ \\/"}, ' +
      '"emoji\\ud83d\\ude00": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]}}';
    writeFileSync(path, stFile(header, Buffer.from([9, 8])));
    const { tensors, metadata } = st().inspect(path);
    expect(metadata).toEqual({ 'k\n': 'caf\u00e9 \u{1F600} "q" \\ /' });
    expect(tensors).toEqual([{ name: 'emoji\u{1F600}', dtype: 'U8', shape: [2], begin: 0, end: 2 }]);
    expect(st().read(path, 'emoji\u{1F600}').data).toEqual(Buffer.from([9, 8]));
  });
});
