// Adapters cross between this engine and peft in both directions: an adapter peft saved loads
// here through loadAdapter() with peft's logits and greedy tokens, and an adapter saved here
// loads in peft (scripts/reference/peft_logits.py) with the logits we compute.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '../../src/api/model.js';
import { readPeftAdapterConfig } from '../../src/api/adapter-config.js';
import { MODEL_FIXTURES, maxAbsDiff, readReferenceTensor } from '../helpers/fixtures.js';
import { NEED, skipWithout } from '../helpers/skip.js';

const LORA = join(import.meta.dirname, '..', 'fixtures', 'lora');
const CASES = ['llama', 'qwen3', 'gemma3_text', 'mistral', 'phi3'];
const PEFT_LOGITS = join(import.meta.dirname, '..', '..', 'scripts', 'reference', 'peft_logits.py');
const PEFT_GREEDY = join(import.meta.dirname, '..', '..', 'scripts', 'reference', 'peft_greedy.py');
const python = spawnSync('python3', ['-c', 'import transformers, peft'], { encoding: 'utf8' });

interface LoraReference {
  sequences: number[][];
}

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'nq-adapter-interop-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe.each(CASES)('%s', (name) => {
  const dir = join(LORA, name);
  const ref = JSON.parse(readFileSync(join(dir, 'reference.json'), 'utf8')) as LoraReference;

  it("loadAdapter(peft's adapter) gives peft's logits, and greedy tokens equal to argmax decoding of them", async () => {
    await using model = await loadModel(join(MODEL_FIXTURES, name), { device: 'cpu' });
    const info = await model.loadAdapter(join(dir, 'adapter_trained'));
    const { spec } = await readPeftAdapterConfig(join(dir, 'adapter_trained', 'adapter_config.json'));
    expect(info.spec).toEqual(spec);
    for (const [i, seq] of ref.sequences.entries()) {
      const expected = readReferenceTensor(name, `logits_trained.${i}`, LORA).data;
      const got = await model.logits([seq]);
      const scale = expected.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
      expect(maxAbsDiff(got.data, 0, expected, 0, expected.length)).toBeLessThanOrEqual(1e-5 * scale);
      // The first greedy token is the argmax of peft's last-position logits.
      const V = got.shape[2] as number;
      const last = expected.subarray((seq.length - 1) * V, seq.length * V);
      const argmax = last.indexOf(Math.max(...last));
      const [next] = await model.generate([seq], { maxNewTokens: 1, eosTokenIds: [] });
      expect(next).toEqual([argmax]);
    }
  });

  it.skipIf(skipWithout(python.status === 0, 'peft interop', NEED.pythonReference))("greedy tokens with peft's adapter equal peft's generate (python3 with transformers, peft)", async () => {
    await using model = await loadModel(join(MODEL_FIXTURES, name), { device: 'cpu' });
    await model.loadAdapter(join(dir, 'adapter_trained'));
    const stdout = execFileSync('python3', [PEFT_GREEDY, join(MODEL_FIXTURES, name), join(dir, 'adapter_trained'), JSON.stringify(ref.sequences), '8'], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    const expected = JSON.parse(stdout.trim().split('\n').pop() as string) as number[][];
    for (const [i, seq] of ref.sequences.entries()) {
      const [ours] = await model.generate([seq], { maxNewTokens: 8, eosTokenIds: [] });
      expect(ours).toEqual(expected[i]);
    }
  });

  it.skipIf(skipWithout(python.status === 0, 'peft interop', NEED.pythonReference))('an adapter saved here loads in peft with our logits (python3 with transformers, peft)', async () => {
    await using model = await loadModel(join(MODEL_FIXTURES, name), { device: 'cpu' });
    await model.loadAdapter(join(dir, 'adapter_trained'));
    const saved = join(work, name);
    await model.saveAdapter(saved);
    const stdout = execFileSync('python3', [PEFT_LOGITS, join(MODEL_FIXTURES, name), saved, JSON.stringify(ref.sequences)], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    const peftLogits = JSON.parse(stdout.trim().split('\n').pop() as string) as number[][][];
    for (const [i, seq] of ref.sequences.entries()) {
      const ours = await model.logits([seq]);
      const theirs = Float32Array.from(peftLogits[i]!.flat());
      const scale = theirs.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
      expect(maxAbsDiff(ours.data, 0, theirs, 0, theirs.length)).toBeLessThanOrEqual(1e-5 * scale);
    }
  });
});
