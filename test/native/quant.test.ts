// 4-bit quantization (native/core/quant.h) through exports.quant, against bitsandbytes:
// quantize gives bitsandbytes' serialized tensors byte for byte, the reference dequantization
// gives its float32 / bfloat16 values bit for bit, checkpoints round trip through
// readSerialized, quantization error stays where NF4/FP4 put it, and malformed inputs fail
// with QUANT_INVALID naming what is wrong. CUDA checks run where CUDA is available.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SftError } from '../../src/errors.js';
import { expectSftError } from '../helpers/errors.js';
import { native, type StTensorData } from '../../src/native.js';
import { NEED, skipWithout } from '../helpers/skip.js';
import {
  bnbCases,
  bnbWeight,
  f32Tensor,
  gaussian,
  quant,
  readVector,
  renameWeight,
  toFloats,
  type TensorRecord,
} from '../helpers/bnb.js';

const cases = bnbCases();
const cudaAvailable = (): boolean => native().buildInfo().cudaAvailable;

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'nq-quant-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});


function expectSameTensor(actual: StTensorData | undefined, expected: StTensorData, what: string): void {
  expect(actual, `${what} is missing`).toBeDefined();
  expect(actual!.dtype, `${what} dtype`).toBe(expected.dtype);
  expect(actual!.shape, `${what} shape`).toEqual(expected.shape);
  const equal = Buffer.compare(actual!.data, expected.data) === 0;
  if (!equal) {
    let first = -1;
    for (let i = 0; i < Math.min(actual!.data.length, expected.data.length); ++i) {
      if (actual!.data[i] !== expected.data[i]) {
        first = i;
        break;
      }
    }
    expect.fail(`${what}: bytes differ (first at byte ${first} of ${expected.data.length})`);
  }
}

function expectSameRecord(actual: TensorRecord, expected: TensorRecord, what: string): void {
  expect(Object.keys(actual).sort(), `${what} keys`).toEqual(Object.keys(expected).sort());
  for (const [name, t] of Object.entries(expected)) expectSameTensor(actual[name], t, `${what} ${name}`);
}

function errorStats(input: StTensorData, dequant: StTensorData): { meanAbs: number; maxAbs: number; relRms: number } {
  const x = toFloats(input);
  const d = toFloats(dequant);
  let abs = 0;
  let max = 0;
  let sq = 0;
  let ref = 0;
  for (let i = 0; i < x.length; ++i) {
    const e = d[i] - x[i];
    abs += Math.abs(e);
    max = Math.max(max, Math.abs(e));
    sq += e * e;
    ref += x[i] * x[i];
  }
  return { meanAbs: abs / x.length, maxAbs: max, relRms: Math.sqrt(sq / ref) };
}

describe.skipIf(cases.length === 0)('bitsandbytes reference vectors (test/fixtures/bnb)', () => {
  it('has cases for NF4 and FP4, with and without double quantization', () => {
    const kinds = new Set(cases.map((c) => `${c.type}/${c.double_quant}`));
    expect([...kinds].sort()).toEqual(['fp4/false', 'fp4/true', 'nf4/false', 'nf4/true']);
  });

  it.each(cases.map((c) => [c.id, c] as const))('%s: quantize gives bitsandbytes bytes for every tensor', (id, c) => {
    const ours = quant().quantize(readVector(`${id}.input`), {
      type: c.type,
      blocksize: c.blocksize,
      doubleQuant: c.double_quant,
    });
    expectSameRecord(ours, renameWeight(bnbWeight(id), `${id}.weight`, 'weight'), id);
  });

  it.each(cases.map((c) => [c.id] as const))('%s: reference dequantization is bit-identical (f32, bf16)', (id) => {
    const weight = bnbWeight(id);
    const f32 = quant().dequantize(weight, { dtype: 'float32', reference: true });
    expectSameTensor(f32, readVector(`${id}.dequant_f32`), `${id} dequant f32`);
    const bf16 = quant().dequantize(weight, { dtype: 'bfloat16', reference: true });
    expectSameTensor(bf16, readVector(`${id}.dequant_bf16`), `${id} dequant bf16`);
    // dequantize() picks the reference on the CPU.
    expectSameTensor(quant().dequantize(weight, { dtype: 'float32' }), f32, `${id} dequantize`);
  });

  it('quantize -> dequantize error matches the reference statistics and stays within NF4/FP4 bounds', () => {
    const results = cases.map((c) => {
      const input = readVector(`${c.id}.input`);
      const q = quant().quantize(input, { type: c.type, blocksize: c.blocksize, doubleQuant: c.double_quant });
      return { c, stats: errorStats(input, quant().dequantize(q, { dtype: 'float32' })) };
    });
    console.log('4-bit round trip error (quantize -> dequantize float32, vs the input)');
    console.table(
      Object.fromEntries(
        results.map(({ c, stats }) => [
          c.id,
          { input: c.input, meanAbsErr: stats.meanAbs.toExponential(3), relRms: stats.relRms.toFixed(4) },
        ]),
      ),
    );
    for (const { c, stats } of results) {
      expect(stats.meanAbs, c.id).toBeCloseTo(c.mean_abs_error, 9);
      expect(stats.maxAbs, c.id).toBeCloseTo(c.max_abs_error, 9);
      expect(stats.relRms, c.id).toBeCloseTo(c.relative_rms_error, 9);
      if (c.input === 'normal') {
        // Gaussian weights: NF4 ~0.09 (blocksize 64) .. 0.12 (4096); FP4 ~0.12 .. 0.19.
        expect(stats.relRms, c.id).toBeLessThan(c.type === 'nf4' ? 0.13 : 0.2);
        expect(stats.relRms, c.id).toBeGreaterThan(0.05);
      }
    }
  });
});

describe('quantize / dequantize / gemv', () => {
  const inFeatures = 320;
  const outFeatures = 48;
  const w = f32Tensor(gaussian(outFeatures * inFeatures, 7, 0.02), [outFeatures, inFeatures]);

  it('serializes in Linear4bit layout: packed (ceil(n/2), 1) uint8, companions, quant_state JSON', () => {
    const q = quant().quantize(w, { type: 'nf4', blocksize: 64, doubleQuant: true });
    expect(Object.keys(q)).toEqual([
      'weight',
      'weight.absmax',
      'weight.quant_map',
      'weight.nested_absmax',
      'weight.nested_quant_map',
      'weight.quant_state.bitsandbytes__nf4',
    ]);
    expect(q.weight).toMatchObject({ dtype: 'U8', shape: [(outFeatures * inFeatures) / 2, 1] });
    expect(q['weight.absmax']).toMatchObject({ dtype: 'U8', shape: [(outFeatures * inFeatures) / 64] });
    expect(q['weight.nested_absmax']).toMatchObject({ dtype: 'F32', shape: [1] });
    expect(q['weight.nested_quant_map']).toMatchObject({ dtype: 'F32', shape: [256] });
    const state = q['weight.quant_state.bitsandbytes__nf4'].data.toString('utf8');
    expect(state).toMatch(
      /^\{"quant_type": "nf4", "blocksize": 64, "dtype": "float32", "shape": \[48, 320\], "nested_blocksize": 256, "nested_dtype": "float32", "nested_offset": 0\.0\d+\}$/,
    );
    const plain = quant().quantize(w, { type: 'fp4', blocksize: 128, doubleQuant: false });
    expect(Object.keys(plain)).toEqual(['weight', 'weight.absmax', 'weight.quant_map', 'weight.quant_state.bitsandbytes__fp4']);
    expect(plain['weight.absmax']).toMatchObject({ dtype: 'F32', shape: [(outFeatures * inFeatures) / 128] });
    expect(plain['weight.quant_state.bitsandbytes__fp4'].data.toString('utf8')).toBe(
      '{"quant_type": "fp4", "blocksize": 128, "dtype": "float32", "shape": [48, 320]}',
    );
  });

  it('round trips through a checkpoint: safetensors.write -> readSerialized -> same tensors and values', async () => {
    const name = 'model.layers.0.mlp.down_proj.weight';
    const q = quant().quantize(w, { type: 'nf4', blocksize: 64, doubleQuant: true });
    const stored = renameWeight(q, 'weight', name);
    const ckpt = mkdtempSync(join(dir, 'roundtrip-'));
    await native().safetensors.write(join(ckpt, 'model.safetensors'), stored);
    const back = quant().readSerialized(ckpt, name);
    expectSameRecord(back, stored, 'readSerialized');
    expectSameTensor(
      quant().dequantize(back, { dtype: 'bfloat16' }),
      quant().dequantize(q, { dtype: 'bfloat16' }),
      'dequantized after the round trip',
    );
  });

  it('gemv equals x @ dequantize(W)^T', () => {
    const q = quant().quantize(w, { type: 'nf4', blocksize: 64, doubleQuant: true });
    const wd = toFloats(quant().dequantize(q, { dtype: 'float32' }));
    const rows = 3;
    const x = gaussian(rows * inFeatures, 11);
    const y = toFloats(quant().gemv(f32Tensor(x, [rows, inFeatures]), q));
    expect(y.length).toBe(rows * outFeatures);
    for (let r = 0; r < rows; ++r) {
      for (let o = 0; o < outFeatures; ++o) {
        let acc = 0;
        for (let i = 0; i < inFeatures; ++i) acc += x[r * inFeatures + i] * wd[o * inFeatures + i];
        expect(Math.abs(y[r * outFeatures + o] - acc)).toBeLessThan(1e-5 * (1 + Math.abs(acc)));
      }
    }
  });

  it("the model's 4-bit linear backward gives the input gradient only (frozen base)", () => {
    const q = quant().quantize(w, { type: 'nf4', blocksize: 64, doubleQuant: true });
    const wd = toFloats(quant().dequantize(q, { dtype: 'float32' }));
    const rows = 10; // more than the gemv's 8 rows: the dequantize + matmul path, as in training
    const x = gaussian(rows * inFeatures, 21);
    const g = gaussian(rows * outFeatures, 22);
    const r = quant().linearBackward(f32Tensor(x, [rows, inFeatures]), q, f32Tensor(g, [rows, outFeatures]));
    expect(r.weightGrads).toBe(0);
    expect(r.dx.shape).toEqual([rows, inFeatures]);
    const dx = toFloats(r.dx);
    for (let row = 0; row < rows; ++row) {
      for (let i = 0; i < inFeatures; ++i) {
        let acc = 0; // dx = gradOut @ W
        for (let o = 0; o < outFeatures; ++o) acc += g[row * outFeatures + o] * wd[o * inFeatures + i];
        expect(Math.abs(dx[row * inFeatures + i] - acc)).toBeLessThan(1e-4 * (1 + Math.abs(acc)));
      }
    }
  });

  it('quantizes a zero weight to zeros', () => {
    const zeros = f32Tensor(new Float32Array(3 * 70), [3, 70]);
    for (const type of ['nf4', 'fp4'] as const) {
      const q = quant().quantize(zeros, { type, blocksize: 64, doubleQuant: true });
      expect(toFloats(quant().dequantize(q, { dtype: 'float32' })).every((v) => v === 0)).toBe(true);
    }
  });

  it.skipIf(skipWithout(cudaAvailable(), 'CUDA quantize / dequantize / gemv', NEED.cuda))('CUDA: quantize gives the CPU bytes; dequantize and gemv match the reference', () => {
    const big = f32Tensor(gaussian(1024 * 4160, 3, 0.02), [1024, 4160]);
    for (const [type, doubleQuant] of [
      ['nf4', true],
      ['fp4', false],
    ] as const) {
      const cpu = quant().quantize(big, { type, blocksize: 64, doubleQuant });
      expectSameRecord(quant().quantize(big, { type, blocksize: 64, doubleQuant, device: 'cuda' }), cpu, `cuda ${type}`);
      for (const dtype of ['float32', 'bfloat16'] as const) {
        expectSameTensor(
          quant().dequantize(cpu, { dtype, device: 'cuda' }),
          quant().dequantize(cpu, { dtype, reference: true }),
          `cuda dequantize ${type} ${dtype}`,
        );
      }
      const x = f32Tensor(gaussian(2 * 4160, 9), [2, 4160]);
      const yCpu = toFloats(quant().gemv(x, cpu));
      const yCuda = toFloats(quant().gemv(x, cpu, { device: 'cuda' }));
      for (let i = 0; i < yCpu.length; ++i) {
        expect(Math.abs(yCuda[i] - yCpu[i]), `cuda gemv ${type} [${i}]`).toBeLessThan(1e-4 * (1 + Math.abs(yCpu[i])));
      }
    }
  });
});

describe('bad inputs fail with QUANT_INVALID naming what is wrong', () => {
  const w = f32Tensor(gaussian(4 * 128, 5), [4, 128]);
  const good = (): TensorRecord => quant().quantize(w, { type: 'nf4', blocksize: 64, doubleQuant: true });

  it('rejects blocksizes that are not a power of two in 64..4096', () => {
    for (const blocksize of [48, 8192, 32, 96]) {
      expectSftError(() => quant().quantize(w, { type: 'nf4', blocksize, doubleQuant: true }), 'QUANT_INVALID', 'blocksize', String(blocksize));
    }
  });

  it('rejects a missing companion tensor, naming it', () => {
    for (const missing of ['weight.absmax', 'weight.quant_map', 'weight.nested_absmax', 'weight.nested_quant_map', 'weight']) {
      const q = good();
      delete q[missing];
      expectSftError(() => quant().dequantize(q, { dtype: 'float32' }), 'QUANT_INVALID', `"${missing}"`);
    }
  });

  it('rejects a quant_state that is not JSON or has wrong fields', () => {
    const key = 'weight.quant_state.bitsandbytes__nf4';
    const withState = (text: string): TensorRecord => {
      const q = good();
      const data = Buffer.from(text, 'utf8');
      q[key] = { dtype: 'U8', shape: [data.length], data };
      return q;
    };
    const base = JSON.parse(good()[key].data.toString('utf8')) as Record<string, unknown>;
    const cases: [string, string[]][] = [
      ['{"quant_type": "nf4", "blocksize": ', ['bitsandbytes__nf4', 'not valid JSON']],
      ['[1, 2]', ['must be a JSON object']],
      [JSON.stringify({ ...base, blocksize: '64' }), ['"blocksize"', 'integer']],
      [JSON.stringify({ ...base, blocksize: 48 }), ['"blocksize"', '48']],
      [JSON.stringify({ ...base, quant_type: 'fp4' }), ['"quant_type"', 'fp4']],
      [JSON.stringify({ ...base, dtype: 'int8' }), ['"dtype"', 'int8']],
      [JSON.stringify({ ...base, shape: [4, 64] }), ['shape', '[4, 64]']],
      [JSON.stringify({ ...base, shape: [4, -128] }), ['"shape"']],
      [JSON.stringify({ ...base, nested_offset: 'x' }), ['"nested_offset"', 'number']],
      [JSON.stringify(Object.fromEntries(Object.entries(base).filter(([k]) => k !== 'dtype'))), ['lacks "dtype"']],
    ];
    for (const [text, mentions] of cases) {
      expectSftError(() => quant().dequantize(withState(text), { dtype: 'float32' }), 'QUANT_INVALID', ...mentions);
    }
  });

  it('rejects companions of the wrong dtype or size', () => {
    const q = good();
    q['weight.absmax'] = { dtype: 'F32', shape: [8], data: Buffer.alloc(32) };
    expectSftError(() => quant().dequantize(q, { dtype: 'float32' }), 'QUANT_INVALID', 'weight.absmax', 'U8');
    const r = good();
    r['weight.quant_map'] = { dtype: 'F32', shape: [15], data: Buffer.alloc(60) };
    expectSftError(() => quant().dequantize(r, { dtype: 'float32' }), 'QUANT_INVALID', 'weight.quant_map', '16');
  });

  it('readSerialized names the checkpoint and the missing tensor', async () => {
    const name = 'layer.weight';
    const stored = renameWeight(good(), 'weight', name);
    delete stored[`${name}.nested_quant_map`];
    const ckpt = mkdtempSync(join(dir, 'missing-'));
    await native().safetensors.write(join(ckpt, 'model.safetensors'), stored);
    expectSftError(() => quant().readSerialized(ckpt, name), 'QUANT_INVALID', ckpt, `${name}.nested_quant_map`);
    expectSftError(() => quant().readSerialized(ckpt, 'other.weight'), 'QUANT_INVALID', 'other.weight', 'no quant_state');
  });

  it('rejects non-float inputs and bad options', () => {
    const ints = { dtype: 'I32' as const, shape: [2, 64], data: Buffer.alloc(512) };
    expectSftError(() => quant().quantize(ints, { type: 'nf4', blocksize: 64, doubleQuant: true }), 'QUANT_INVALID', 'dtype');
    // bitsandbytes' defaults are the recipe's (src/config/defaults.ts): the binding requires each.
    expectSftError(() => quant().quantize(w, { type: 'nf4', doubleQuant: true } as never), 'INVALID_ARGUMENT', 'blocksize', 'undefined');
    expectSftError(() => quant().quantize(w, { type: 'nf4', blocksize: 64 } as never), 'INVALID_ARGUMENT', 'doubleQuant', 'undefined');
    expectSftError(() => quant().quantize(w, { type: 'nf5' as 'nf4' }), 'INVALID_ARGUMENT', 'type', 'nf5');
    expectSftError(() => quant().dequantize(good(), { dtype: 'int8' as 'float32' }), 'INVALID_ARGUMENT', 'dtype');
  });
});
