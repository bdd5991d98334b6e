// The classification batch (src/engine/classify-batch.ts) and the SEQ_CLS adapter config
// (src/engine/adapter-config.ts): padding removed whichever side it is on, one label per row,
// bad rows named; peft's SEQ_CLS configs read (the head in modules_to_save) and written back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { collateClassify, isClassifyBatch, packClassifyBatch } from '../../src/engine/classify-batch.js';
import { peftAdapterConfig, readPeftAdapterConfig, type LoraSpec } from '../../src/engine/adapter-config.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'nq-classify-batch-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('classification batches', () => {
  it('packs left- and right-padded rows to the same tokens, one label per row', () => {
    const right = packClassifyBatch({ ids: [[4, 5, 6], [7, 8, 0]], attentionMask: [[1, 1, 1], [1, 1, 0]], labels: [1, 0] }, 2);
    const left = packClassifyBatch({ ids: [[4, 5, 6], [0, 7, 8]], attentionMask: [[1, 1, 1], [0, 1, 1]], labels: [1, 0] }, 2);
    for (const p of [right, left]) {
      expect(Array.from(p.ids)).toEqual([4, 5, 6, 7, 8]);
      expect(Array.from(p.seqLens)).toEqual([3, 2]);
      expect(Array.from(p.labels)).toEqual([1, 0]);
    }
    const collated = collateClassify([{ ids: [4, 5, 6], label: 1 }, { ids: [7, 8], label: 0 }], 0);
    expect(collated).toEqual({ ids: [[4, 5, 6], [7, 8, 0]], attentionMask: [[1, 1, 1], [1, 1, 0]], labels: [1, 0] });
    expect(isClassifyBatch(collated)).toBe(true);
    expect(isClassifyBatch({ ids: [[1]], attentionMask: [[1]], labels: [[1]] })).toBe(false);
  });

  it.each([
    [{ ids: [[1, 2]], labels: [2] }, 'labels[0] is 2; expected a class index in [0, 2)'],
    [{ ids: [[1, 2]], labels: [0, 1] }, 'ids has 1 rows, labels 2'],
    [{ ids: [[1, 2], [3, 4]], attentionMask: [[1, 1], [0, 0]], labels: [0, 1] }, 'row 1 has no token'],
    [{ ids: [[1, 2]], attentionMask: [[1]], labels: [0] }, 'row 0 has 2 ids but 1 mask entries'],
  ])('refuses %j naming the problem', (batch, message) => {
    expect(() => packClassifyBatch(batch, 2)).toThrow(message);
  });
});

describe('SEQ_CLS adapter_config.json', () => {
  const spec: LoraSpec = { r: 16, alpha: 32, dropout: 0.05, targets: ['q_proj', 'k_proj', 'v_proj'], layersToTransform: [16, 17], useRslora: false, taskType: 'SEQ_CLS' };
  const write = (name: string, config: Record<string, unknown>) => {
    const file = join(dir, name);
    writeFileSync(file, JSON.stringify(config));
    return file;
  };

  it('writes task_type SEQ_CLS with the head in modules_to_save, and reads it back', async () => {
    const config = peftAdapterConfig(spec, 'unsloth/gemma-2-9b-it-bnb-4bit');
    expect(config).toMatchObject({ task_type: 'SEQ_CLS', modules_to_save: ['score'] });
    const { spec: back } = await readPeftAdapterConfig(write('ours.json', config));
    expect(back).toEqual({ ...spec, targets: ['k_proj', 'q_proj', 'v_proj'] });
  });

  it("reads peft's own SEQ_CLS lists (score and classifier, repeated) and refuses other saved modules", async () => {
    const peftWritten = { ...peftAdapterConfig(spec, null), modules_to_save: ['score', 'classifier', 'score'] };
    expect((await readPeftAdapterConfig(write('peft.json', peftWritten))).spec.taskType).toBe('SEQ_CLS');
    await expect(readPeftAdapterConfig(write('embed.json', { ...peftWritten, modules_to_save: ['score', 'embed_tokens'] }))).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringContaining('embed_tokens'),
    });
    await expect(readPeftAdapterConfig(write('causal.json', { ...peftWritten, task_type: 'CAUSAL_LM' }))).rejects.toMatchObject({
      message: expect.stringContaining("only a task_type 'SEQ_CLS' adapter may save a module"),
    });
  });
});

describe('config.json rewritten by mergeAdapter', () => {
  it('keeps 8.0 and 1e-06 as written (transformers rejects 8 for a float field), strings untouched', async () => {
    const { parseJsonKeepingFloats, stringifyJsonKeepingFloats } = await import('../../src/engine/json-floats.js');
    const text = '{"final_logit_softcapping": 8.0, "rms_norm_eps": 1e-06, "n": -3, "s": "a: 1.5, \\"q\\" 2.0", "l": [0.5, 2], "z": null}';
    const value = parseJsonKeepingFloats(text) as Record<string, unknown>;
    expect(Number(value.final_logit_softcapping)).toBe(8);
    expect(value.s).toBe('a: 1.5, "q" 2.0');
    value.num_labels = 3;
    const out = stringifyJsonKeepingFloats(value);
    expect(out).toContain('"final_logit_softcapping": 8.0');
    expect(out).toContain('"rms_norm_eps": 1e-06');
    expect(out).toContain('"n": -3');
    expect(JSON.parse(out)).toEqual({ final_logit_softcapping: 8, rms_norm_eps: 1e-6, n: -3, s: 'a: 1.5, "q" 2.0', l: [0.5, 2], z: null, num_labels: 3 });
  });
});
