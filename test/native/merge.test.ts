// mergeAdapter writes a plain 16-bit checkpoint whose logits equal adapter-on-base, for a
// 16-bit base and for a 4-bit (bitsandbytes NF4) base, which is dequantized first.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '../../src/api/model.js';
import { native } from '../../src/native.js';
import { BNB_FIXTURES, MODEL_FIXTURES, maxAbsDiff, readReference } from '../helpers/fixtures.js';

const ADAPTER = join(import.meta.dirname, '..', 'fixtures', 'lora', 'llama', 'adapter_trained');
const sequences = readReference('llama').sequences;
let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'nq-merge-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe.each([
  ['fp32 base', join(MODEL_FIXTURES, 'llama')],
  ['NF4 base (bitsandbytes)', join(BNB_FIXTURES, 'llama_nf4')],
])('mergeAdapter on a %s', (label, base) => {
  it('gives the logits and greedy tokens of the adapter on the base', async () => {
    const out = join(work, label.replace(/\W+/g, '-'));
    await using model = await loadModel(base, { device: 'cpu' });
    await model.loadAdapter(ADAPTER);
    const result = await model.mergeAdapter(out);
    expect(result.tensors).toBeGreaterThan(0);

    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(config.quantization_config).toBeUndefined();
    const names = native().safetensors.inspect(join(out, 'model.safetensors')).tensors.map((t) => t.name);
    expect(names.some((n) => /absmax|quant_map|quant_state/.test(n))).toBe(false);
    expect(existsSync(join(out, 'generation_config.json'))).toBe(true);

    await using merged = await loadModel(out, { device: 'cpu' });
    expect(merged.info().quantizedLinears).toBe(0);
    for (const seq of sequences) {
      const a = await model.logits([seq]);
      const b = await merged.logits([seq]);
      const scale = a.data.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
      expect(maxAbsDiff(a.data, 0, b.data, 0, a.data.length)).toBeLessThanOrEqual(1e-5 * scale);
      const opts = { maxNewTokens: 8, eosTokenIds: [] };
      expect(await merged.generate([seq], opts)).toEqual(await model.generate([seq], opts));
    }
  });
});

describe('mergeAdapter errors', () => {
  it('needs an adapter and an output folder other than the model', async () => {
    await using model = await loadModel(join(MODEL_FIXTURES, 'llama'), { device: 'cpu' });
    await expect(model.mergeAdapter(join(work, 'x'))).rejects.toMatchObject({ message: expect.stringContaining('no LoRA adapter') });
    await model.loadAdapter(ADAPTER);
    await expect(model.mergeAdapter(join(MODEL_FIXTURES, 'llama'))).rejects.toMatchObject({ message: expect.stringContaining('must differ') });
  });
});
