// bitsandbytes 4-bit checkpoints (made by transformers + bitsandbytes; scripts/reference/
// make_bnb_fixtures.py): loaded as stored they give the logits and greedy tokens that
// transformers computes on their exactly-dequantized fp32 twins; quantizing the fp32 source
// on load, or with `sft quantize`, reproduces bitsandbytes' bytes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel, type Model } from '../../src/api/model.js';
import { quantizeCheckpoint } from '../../src/api/quantize.js';
import { native } from '../../src/native.js';
import { toFloats } from '../helpers/bnb.js';
import { NEED, skipWithout } from '../helpers/skip.js';
import { BNB_FIXTURES, MODEL_FIXTURES, eosList, maxAbsDiff, readReference, readReferenceTensor } from '../helpers/fixtures.js';

interface BnbCase {
  name: string;
  source: string; // the fp32 fixture it was quantized from
  quant: 'nf4' | 'fp4';
  doubleQuant: boolean;
  skipped: string[]; // linear modules left 16-bit
}
const CASES: BnbCase[] = [
  { name: 'llama_nf4', source: 'llama', quant: 'nf4', doubleQuant: true, skipped: [] },
  { name: 'qwen3_fp4', source: 'qwen3', quant: 'fp4', doubleQuant: false, skipped: [] },
  { name: 'llama_dynamic', source: 'llama', quant: 'nf4', doubleQuant: true, skipped: ['model.layers.1.mlp.down_proj', 'model.layers.0.self_attn.o_proj'] },
];

function linearsPerModel(name: string): number {
  const config = JSON.parse(readFileSync(join(BNB_FIXTURES, name, 'config.json'), 'utf8')) as { num_hidden_layers: number };
  return config.num_hidden_layers * 7;
}

async function expectTwinParity(model: Model, twin: string): Promise<void> {
  const ref = readReference(twin, BNB_FIXTURES);
  const tol = 1e-4 * ref.logits_scale;
  for (const [i, seq] of ref.sequences.entries()) {
    const expected = readReferenceTensor(twin, `logits.${i}`, BNB_FIXTURES);
    const got = await model.logits([seq]);
    expect(maxAbsDiff(got.data, 0, expected.data, 0, expected.data.length)).toBeLessThanOrEqual(tol);
  }
  for (const g of ref.greedy) {
    const [out] = await model.generate([g.prompt], { maxNewTokens: g.max_new_tokens, minNewTokens: g.min_new_tokens, eosTokenIds: eosList(g.eos_token_id) });
    expect(out).toEqual(g.output);
  }
  for (const g of ref.greedy_batch) {
    const out = await model.generate(g.prompts, { maxNewTokens: g.max_new_tokens, minNewTokens: g.min_new_tokens, eosTokenIds: eosList(g.eos_token_id) });
    expect(out).toEqual(g.outputs);
  }
}

describe.each(CASES)('$name', (c) => {
  it('loads as stored (4-bit) and matches transformers on the fp32 twin', async () => {
    await using model = await loadModel(join(BNB_FIXTURES, c.name), { device: 'cpu' });
    expect(model.info().quantizedLinears).toBe(linearsPerModel(c.name) - c.skipped.length);
    await expectTwinParity(model, `${c.name}_twin`);
  });

  it("with quant 'none' is dequantized to 16/32-bit and gives the same logits", async () => {
    await using model = await loadModel(join(BNB_FIXTURES, c.name), { device: 'cpu', quant: 'none' });
    expect(model.info().quantizedLinears).toBe(0);
    await expectTwinParity(model, `${c.name}_twin`);
  });

  it.skipIf(c.skipped.length > 0)('quantizing the fp32 source on load gives exactly the bnb checkpoint\'s logits', async () => {
    await using stored = await loadModel(join(BNB_FIXTURES, c.name), { device: 'cpu' });
    await using onLoad = await loadModel(join(MODEL_FIXTURES, c.source), { device: 'cpu', quant: c.quant, doubleQuant: c.doubleQuant });
    expect(onLoad.info().quantizedLinears).toBe(stored.info().quantizedLinears);
    const seqs = readReference(`${c.name}_twin`, BNB_FIXTURES).sequences;
    for (const seq of seqs) {
      const a = await stored.logits([seq]);
      const b = await onLoad.logits([seq]);
      expect(maxAbsDiff(a.data, 0, b.data, 0, a.data.length)).toBe(0);
    }
  });
});

describe('sft quantize (quantizeCheckpoint)', () => {
  let work: string;
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'nq-quantize-'));
  });
  afterAll(() => {
    rmSync(work, { recursive: true, force: true });
  });

  // The qwen3 source is stored bfloat16 and bitsandbytes' copy was made from it loaded as
  // float32: there, 16-bit tensors and quant_state.dtype differ in dtype only.
  it.each(CASES.filter((c) => c.skipped.length === 0))('$source -> $quant writes the tensors bitsandbytes writes', async (c) => {
    const sameDtypes = c.source === 'llama';
    const out = join(work, c.name);
    const result = await quantizeCheckpoint(join(MODEL_FIXTURES, c.source), out, { quant: c.quant, doubleQuant: c.doubleQuant });
    expect(result.quantized).toBe(linearsPerModel(c.name));
    const st = native().safetensors;
    const ours = join(out, 'model.safetensors');
    const theirs = join(BNB_FIXTURES, c.name, 'model.safetensors');
    const names = st.inspect(ours).tensors.map((t) => t.name).sort();
    expect(names).toEqual(st.inspect(theirs).tensors.map((t) => t.name).sort());
    for (const name of names) {
      const a = st.read(ours, name);
      const b = st.read(theirs, name);
      const quantTensor = /\.weight(\.(absmax|quant_map|nested_absmax|nested_quant_map))?$/.test(name) && names.includes(`${name.replace(/\.(absmax|quant_map|nested_absmax|nested_quant_map)$/, '')}.quant_state.bitsandbytes__${c.quant}`);
      if (name.includes('.quant_state.')) {
        const [ja, jb] = [JSON.parse(a.data.toString('utf8')), JSON.parse(b.data.toString('utf8'))];
        if (!sameDtypes) delete ja.dtype, delete jb.dtype;
        expect(ja, name).toEqual(jb);
      } else if (sameDtypes || quantTensor) {
        expect([name, a.dtype, a.shape]).toEqual([name, b.dtype, b.shape]);
        expect(a.data.equals(b.data), name).toBe(true);
      } else {
        expect([name, a.shape]).toEqual([name, b.shape]);
        expect(toFloats(a), name).toEqual(toFloats(b));
      }
    }
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as { quantization_config: Record<string, unknown> };
    const expected = JSON.parse(readFileSync(join(BNB_FIXTURES, c.name, 'config.json'), 'utf8')) as { quantization_config: Record<string, unknown> };
    if (!sameDtypes) delete config.quantization_config.bnb_4bit_compute_dtype, delete expected.quantization_config.bnb_4bit_compute_dtype;
    expect(config.quantization_config).toEqual(expected.quantization_config);

    await using model = await loadModel(out, { device: 'cpu' });
    await expectTwinParity(model, `${c.name}_twin`);
  });

  const python = spawnSync('python3', ['-c', 'import transformers, bitsandbytes, accelerate'], { encoding: 'utf8' });
  it.skipIf(skipWithout(python.status === 0, 'transformers + bitsandbytes load our 4-bit checkpoint', NEED.pythonReference))('transformers + bitsandbytes load the quantized checkpoint (python3 with transformers, bitsandbytes, accelerate)', async () => {
    const out = join(work, 'for-python');
    await quantizeCheckpoint(join(MODEL_FIXTURES, 'llama'), out, { quant: 'nf4', doubleQuant: true });
    const ref = readReference('llama_nf4_twin', BNB_FIXTURES);
    const script = join(import.meta.dirname, '..', '..', 'scripts', 'reference', 'bnb_load_logits.py');
    const stdout = execFileSync('python3', [script, out, JSON.stringify(ref.sequences)], { encoding: 'utf8', timeout: 120_000 });
    const logits = JSON.parse(stdout.trim().split('\n').pop() as string) as number[][][];
    for (const [i] of ref.sequences.entries()) {
      const expected = readReferenceTensor('llama_nf4_twin', `logits.${i}`, BNB_FIXTURES);
      const flat = Float32Array.from(logits[i]!.flat());
      expect(maxAbsDiff(flat, 0, expected.data, 0, expected.data.length)).toBeLessThanOrEqual(1e-4 * ref.logits_scale);
    }
  });
});
