// Numeric options out of range are refused by the zod schemas (the CLI's and the API's one gate)
// with the accepted range in the message, before any file is read or model loaded.
import { describe, expect, it } from 'vitest';
import { generateTextSchema } from '../../src/api/generate-text.js';
import { demoOptionsSchema } from '../../src/api/demo.js';
import { train } from '../../src/api/train.js';
import { evaluate } from '../../src/api/evaluate.js';
import { flagName, parseOptions } from '../../src/config/parse-options.js';
import { evalOptionsSchema, trainerOptionsSchema, trainOptionsSchema } from '../../src/config/run-options.js';
import { SftError } from '../../src/errors.js';
import { expectSftError } from '../helpers/errors.js';

const base = { model: 'no-such-model-dir', data: 'no-such-data.csv', out: '/tmp/nq-bounds-never-written' };
const trainWith = (o: Record<string, unknown>) => () => parseOptions(trainOptionsSchema, { ...base, ...o }, 'sft train options', flagName);

describe('option ranges', () => {
  it.each([
    [{ lr: 1e308 }, '--lr', 'a number in (0, 1] but received 1e+308'],
    [{ lr: 0 }, '--lr', '(0, 1]'],
    [{ batchSize: 1e9 }, '--batch-size', 'an integer in [1, 65536] but received 1000000000'],
    [{ loraR: 0 }, '--lora-r', 'an integer in [1, 4096] but received 0'],
    [{ loraAlpha: -1 }, '--lora-alpha', '(0, 65536]'],
    [{ maxSeqLen: -5 }, '--max-seq-len', 'an integer in [8, 1048576] but received -5'],
    [{ epochs: 1e7 }, '--epochs', '[1, 100000]'],
    [{ warmupSteps: 2.5 }, '--warmup-steps', 'an integer in [0, 1000000000] but received 2.5'],
    [{ gradAccum: 1e6 }, '--grad-accum', '[1, 65536]'],
    [{ maxSteps: 1e12 }, '--max-steps', '[1, 1000000000]'],
    [{ weightDecay: 1e9 }, '--weight-decay', '[0, 10]'],
    [{ eps: 5 }, '--eps', '(0, 1]'],
    [{ worldSize: 1e4 }, '--world-size', '[1, 256]'],
    [{ seed: -1 }, '--seed', '[0, 2^53-1]'],
  ])('train %o is refused naming %s and its range', (o, flag, range) => {
    expectSftError(trainWith(o), 'INVALID_ARGUMENT', flag, range);
  });

  it('a value that is not a number states the range too', () => {
    expectSftError(trainWith({ lr: 'fast' }), 'INVALID_ARGUMENT', '--lr', 'a number in (0, 1] but received "fast"');
  });

  it('eval, generate, createTrainer and the demo use the same ranges', () => {
    expectSftError(() => parseOptions(evalOptionsSchema, { model: 'm', data: 'd', maxNewTokens: 1e9 }, 'eval options'), 'INVALID_ARGUMENT', 'maxNewTokens', '[1, 1048576]');
    expectSftError(() => parseOptions(evalOptionsSchema, { model: 'm', data: 'd', batchSize: 0 }, 'eval options'), 'INVALID_ARGUMENT', 'batchSize', '[1, 65536]');
    expectSftError(() => parseOptions(generateTextSchema, { model: 'm', prompt: 'p', maxNewTokens: 1e9 }, 'generateText options'), 'INVALID_ARGUMENT', 'maxNewTokens', '[0, 1048576]');
    expectSftError(() => parseOptions(trainerOptionsSchema, { totalSteps: 10, lr: 1e308 }, 'trainer options'), 'INVALID_ARGUMENT', 'lr', '(0, 1]');
    expectSftError(() => parseOptions(demoOptionsSchema, { epochs: 0 }, 'demo options'), 'INVALID_ARGUMENT', 'epochs', '[1, 100000]');
  });

  it('the defaults and the ends of each range are accepted', () => {
    expect(() => trainWith({})()).not.toThrow();
    expect(() => trainWith({ lr: 1, batchSize: 65536, loraR: 4096, maxSeqLen: 8, warmupSteps: 0, maxGradNorm: 0 })()).not.toThrow();
  });

  it('train() and evaluate() refuse before reading the data or resolving the model', async () => {
    // The model and the data do not exist: a range error proves nothing was looked at first.
    const refused = async (p: Promise<unknown>) => {
      const err = await p.then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(SftError);
      return err as SftError;
    };
    const t = await refused(train({ ...base, batchSize: 1e9 }));
    expect([t.code, t.message]).toEqual(['INVALID_ARGUMENT', expect.stringContaining('batchSize: expected an integer in [1, 65536]')]);
    const e = await refused(evaluate({ model: base.model, data: base.data, maxNewTokens: 1e9 }));
    expect([e.code, e.message]).toEqual(['INVALID_ARGUMENT', expect.stringContaining('maxNewTokens: expected an integer in [1, 1048576]')]);
  });
});

describe('model.addLora() uses the same ranges for r and alpha', () => {
  it('r 0 and alpha 1e9 are refused with the range', async () => {
    const { loraOptionsSchema } = await import('../../src/engine/model.js');
    expectSftError(() => parseOptions(loraOptionsSchema, { r: 0 }, 'addLora options'), 'INVALID_ARGUMENT', 'r: expected an integer in [1, 4096] but received 0');
    expectSftError(() => parseOptions(loraOptionsSchema, { alpha: 1e9 }, 'addLora options'), 'INVALID_ARGUMENT', 'alpha: expected a number in (0, 65536]');
  });
});
