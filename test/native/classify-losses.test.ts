// The classification losses (native/core/loss.h) against their authors' code: R-Drop's
// compute_kl_loss (dropreg/R-Drop) and HobbitLong's SupConLoss, run with torch autograd by
// scripts/reference/make_classify_fixtures.py on random pooled features (test/fixtures/classify/
// losses.*): the summed loss and the gradients of the pooled features and of the head.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { native, type StTensorData } from '../../src/native.js';
import { maxAbsDiff } from '../helpers/fixtures.js';

const DIR = join(import.meta.dirname, '..', 'fixtures', 'classify');
const FILE = join(DIR, 'losses.safetensors');

interface LossCase {
  passes: number;
  rdrop_alpha: number;
  supcon_weight: number;
  temperature: number;
  loss_sum: number;
}
const meta = JSON.parse(readFileSync(join(DIR, 'losses.json'), 'utf8')) as { grad_scale: number; cases: Record<string, LossCase> };
const read = (name: string): StTensorData => native().safetensors.read(FILE, name);
function f32(t: StTensorData): Float32Array {
  const out = new Float32Array(t.data.byteLength / 4);
  new Uint8Array(out.buffer).set(t.data);
  return out;
}

describe('classification losses', () => {
  const labelsData = read('labels');
  const labels = new Int32Array(labelsData.data.buffer.slice(labelsData.data.byteOffset, labelsData.data.byteOffset + labelsData.data.byteLength));

  it.each(Object.entries(meta.cases))('%s: loss and gradients equal the reference', (name, c) => {
    const pooled = Array.from({ length: c.passes }, (_, i) => read(`pooled.${i}`));
    const out = native().losses.classification(pooled, read('weight'), labels, {
      rdropAlpha: c.rdrop_alpha,
      supconWeight: c.supcon_weight,
      supconTemperature: c.temperature,
      gradScale: meta.grad_scale,
    });
    expect(out.lossSum).toBeCloseTo(c.loss_sum, 5);
    const expectGrad = (got: StTensorData, key: string) => {
      const expected = f32(read(key));
      const scale = expected.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
      expect(scale, key).toBeGreaterThan(0);
      expect(maxAbsDiff(f32(got), 0, expected, 0, expected.length), key).toBeLessThanOrEqual(1e-5 * scale);
    };
    expect(out.gradPooled.length).toBe(c.passes);
    out.gradPooled.forEach((g, i) => expectGrad(g, `${name}.grad_pooled.${i}`));
    expectGrad(out.gradWeight, `${name}.grad_weight`);
  });

  it('the terms are really there: R-Drop adds a positive KL to the passes\' mean CE, SupCon moves the loss', () => {
    const run = (passes: number, o: { rdropAlpha: number; supconWeight: number }) =>
      native().losses.classification(Array.from({ length: passes }, (_, i) => read(`pooled.${i}`)), read('weight'), labels, { ...o, supconTemperature: 0.07, gradScale: 1 }).lossSum;
    const meanCe = run(2, { rdropAlpha: 0, supconWeight: 0 });
    const kl = (meta.cases.rdrop!.loss_sum - meanCe) / meta.cases.rdrop!.rdrop_alpha;
    expect(kl).toBeGreaterThan(1e-3);
    expect(Math.abs(meta.cases.supcon!.loss_sum - meta.cases.ce!.loss_sum)).toBeGreaterThan(1e-3);
  });

  it('refuses pooled features that do not fit the head, naming them', () => {
    const bad = { dtype: 'F32' as const, shape: [6, 4], data: Buffer.alloc(6 * 4 * 4) };
    expect(() => native().losses.classification([bad], read('weight'), labels, { rdropAlpha: 0, supconWeight: 0, supconTemperature: 0.07, gradScale: 1 })).toThrow(/pooled/);
  });
});
