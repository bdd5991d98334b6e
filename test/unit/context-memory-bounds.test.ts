// Lengths against the model's context length, and the training memory estimate against what is
// free: both refuse before anything is allocated, naming the figures.
import { totalmem } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadArchConfig } from '../../src/config/hf-config.js';
import { checkPromptsFitContext, seqLenWithinContext } from '../../src/config/context-length.js';
import { checkMemoryFits, estimateTrainMemory, freeCpuBytes } from '../../src/config/memory-estimate.js';
import { generateText } from '../../src/api/generate-text.js';
import { SftError } from '../../src/errors.js';
import { expectSftError } from '../helpers/errors.js';

const fixtures = join(import.meta.dirname, '..', 'fixtures', 'models');
const demoModel = join(import.meta.dirname, '..', '..', 'assets', 'demo', 'model');

describe('context length', () => {
  it('a prompt whose length plus max-new-tokens passes the context is refused, naming it and its length', () => {
    expectSftError(() => checkPromptsFitContext([100_000], 32, 512), 'INVALID_ARGUMENT', 'prompt has 100000 tokens', 'context length of 512', 'at most 0');
    expectSftError(() => checkPromptsFitContext([3, 500, 4], 20, 512), 'INVALID_ARGUMENT', 'prompt 1 has 500 tokens', '520', 'at most 12');
    expect(() => checkPromptsFitContext([480, 3], 32, 512)).not.toThrow();
  });

  it('max-seq-len beyond the context is lowered to it, with a note', () => {
    expect(seqLenWithinContext(2048, 512)).toEqual({ maxSeqLen: 512, note: expect.stringContaining('using 512 tokens instead') });
    expect(seqLenWithinContext(128, 512)).toEqual({ maxSeqLen: 128 });
  });

  it('generateText with a 100k-token prompt fails before the model loads (before: killed at 24 GB)', async () => {
    const prompt = 'great movie '.repeat(50_000);
    const err = await generateText({ model: demoModel, prompt, device: 'cpu' }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(SftError);
    expect([(err as SftError).code, (err as SftError).message]).toEqual(['INVALID_ARGUMENT', expect.stringMatching(/^prompt has \d+ tokens; .* context length of 512 tokens/)]);
  });
});

describe('training memory estimate (a lower bound, formula in src/config/memory-estimate.ts)', () => {
  it('adds the base weights, the LoRA weights with their AdamW state and the layer inputs kept for backward', async () => {
    const arch = await loadArchConfig(join(fixtures, 'llama')); // H 64, I 128, 2 layers, 4 heads / 2 kv of 16, vocab 320, untied
    const input = { arch, dtypeBytes: 4, quantized: false, microBatch: 4, seqLen: 60, loraR: 8, targets: ['q_proj', 'k_proj', 'v_proj'] };
    // linears per layer: q 64x64 + k, v 64x32 + o 64x64 + gate, up, down 3x64x128 = 36864; x 2 layers x 4 bytes,
    // + embed_tokens and lm_head 2 x 320x64x4
    const base = 2 * 36864 * 4 + 2 * 320 * 64 * 4;
    const lora = 2 * (8 * (64 + 64) + 2 * 8 * (64 + 32)) * 16;
    const saved = 2 * 4 * 60 * 64 * 4;
    expect(estimateTrainMemory(input)).toEqual({ baseBytes: base, loraBytes: lora, activationBytes: saved, totalBytes: base + lora + saved });
    expect(estimateTrainMemory({ ...input, quantized: true }).baseBytes).toBe(2 * 36864 * 0.5 + 2 * 320 * 64 * 4);
  });

  it('refuses with the figures when the need exceeds what is free, and never the demo recipe', async () => {
    const arch = await loadArchConfig(demoModel);
    const demo = { arch, dtypeBytes: 4, quantized: false, microBatch: 16, seqLen: 128, loraR: 16, targets: ['q_proj', 'k_proj', 'v_proj'] };
    const e = estimateTrainMemory(demo);
    expect(e.totalBytes).toBeLessThan(64 * 2 ** 20); // a 1M-parameter model: megabytes
    expect(() => checkMemoryFits(e, freeCpuBytes(), 'cpu', demo)).not.toThrow();
    expect(() => checkMemoryFits(e, undefined, 'cuda', demo)).not.toThrow(); // free memory unknown: nothing refused
    const big = { ...demo, microBatch: 65536, seqLen: 512 };
    expectSftError(() => checkMemoryFits(estimateTrainMemory(big), 8 * 2 ** 30, 'cuda', big), 'INVALID_ARGUMENT',
      'needs at least 64.', 'GPU memory but 8.00 GiB is free', 'micro-batch 65536 x 512 tokens x', 'Lower --batch-size');
  });

  it('free CPU memory is positive and no more than the machine has', () => {
    const free = freeCpuBytes();
    expect(free).toBeGreaterThan(0);
    expect(free).toBeLessThanOrEqual(totalmem());
  });
});
