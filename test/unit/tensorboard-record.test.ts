// The hand-written TensorBoard event files: CRC-32C against the published check values, and the
// files read back by tensorboard's own reader (scripts/reference/read_tensorboard.py: its TFRecord
// reader checks every masked CRC, its protobuf classes parse every Event), including the
// session start that makes TensorBoard drop a first run's points past a resumed run's checkpoint.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { crc32c, maskedCrc32c, tfRecord } from '../../src/train/tensorboard-record.js';
import { stepScalars, TensorBoardWriter } from '../../src/train/tensorboard.js';
import { NEED, skipWithout } from '../helpers/skip.js';

const READER = join(import.meta.dirname, '..', '..', 'scripts', 'reference', 'read_tensorboard.py');
const hasTensorboard = spawnSync('python3', ['-c', 'import tensorboard'], { encoding: 'utf8' }).status === 0;
const work = mkdtempSync(join(tmpdir(), 'nq-tb-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Read {
  files: string[];
  records: number;
  file_versions: string[];
  session_starts: number[];
  scalars: Record<string, [number, number][]>;
}
const readBack = (dir: string): Read => JSON.parse(execFileSync('python3', [READER, dir], { encoding: 'utf8' })) as Read;

describe('TFRecord framing', () => {
  it('crc32c gives the published check values (RFC 3720 B.4, and "123456789")', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32c(Buffer.alloc(32, 0))).toBe(0x8a9136aa);
    expect(crc32c(Buffer.alloc(32, 0xff))).toBe(0x62a8ab43);
    expect(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => i)))).toBe(0x46dd794e);
  });

  it('a record is length, masked CRC of the length, data, masked CRC of the data', () => {
    const data = Buffer.from('event bytes');
    const r = tfRecord(data);
    expect(r.length).toBe(8 + 4 + data.length + 4);
    expect(r.readBigUInt64LE(0)).toBe(BigInt(data.length));
    expect(r.readUInt32LE(8)).toBe(maskedCrc32c(r.subarray(0, 8)));
    expect(r.subarray(12, 12 + data.length).equals(data)).toBe(true);
    expect(r.readUInt32LE(12 + data.length)).toBe(maskedCrc32c(data));
    const crc = crc32c(data);
    expect(maskedCrc32c(data)).toBe(((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) % 2 ** 32);
  });

  it('log line fields become tags; counters are left out; validation fields go under eval/', () => {
    expect(stepScalars({ step: 3, epoch: 0, loss: 1.5, lr: 1e-4, gradNorm: 2, tokens: 9, inputTokens: 20, seconds: 0.1, tokensPerSecond: 90, inputTokensPerSecond: 200, valLoss: 1.2, evalAcc: 0.5 })).toEqual({
      'train/epoch': 0,
      'train/loss': 1.5,
      'train/learning_rate': 1e-4,
      'train/grad_norm': 2,
      'train/tokens_per_second': 90,
      'train/input_tokens_per_second': 200,
      'eval/loss': 1.2,
      'eval/acc': 0.5,
    });
  });
});

describe.skipIf(skipWithout(hasTensorboard, "tensorboard's Python reader reads the event files", NEED.pythonReference))('read back by tensorboard', () => {
  it('scalars at their steps as float32, the file version, and a resumed run drops the first run past its checkpoint', () => {
    const dir = join(work, 'run');
    const first = TensorBoardWriter.open(dir);
    for (let step = 1; step <= 5; step++) first.logStep({ step, loss: 1 / step, lr: step * 1e-5, gradNorm: step + 0.5 });
    first.scalars(5, { 'eval/acc': 0.8125 });
    first.close();
    const once = readBack(dir);
    expect(once.records).toBe(1 + 5 + 1);
    expect(once.file_versions).toEqual(['brain.Event:2']);
    expect(once.scalars['train/loss']).toEqual([1, 2, 3, 4, 5].map((s) => [s, Math.fround(1 / s)]));
    expect(once.scalars['train/learning_rate']).toEqual([1, 2, 3, 4, 5].map((s) => [s, Math.fround(s * 1e-5)]));
    expect(once.scalars['eval/acc']).toEqual([[5, 0.8125]]);

    // Resumed from a checkpoint at step 3: the new file starts with a session start at step 4.
    const resumed = TensorBoardWriter.open(dir, 4);
    for (let step = 4; step <= 6; step++) resumed.logStep({ step, loss: 10 + step, lr: 0, gradNorm: 0 });
    resumed.close();
    const twice = readBack(dir);
    expect(twice.files).toHaveLength(2);
    expect(twice.session_starts).toEqual([4]);
    expect(twice.scalars['train/loss']).toEqual([[1, 1], [2, 0.5], [3, Math.fround(1 / 3)], [4, 14], [5, 15], [6, 16]]);
  }, 60_000);

  it('a flipped byte fails the CRC check of the reader (the check is live)', () => {
    const dir = join(work, 'corrupt');
    const w = TensorBoardWriter.open(dir);
    w.logStep({ step: 1, loss: 2, lr: 1, gradNorm: 1 });
    w.close();
    const file = join(dir, readdirSync(dir)[0] as string);
    const bytes = readFileSync(file);
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 6) ^ 1, bytes.length - 6);
    writeFileSync(file, bytes);
    const r = spawnSync('python3', [READER, dir], { encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/DataLossError|crc32/);
  }, 60_000);
});
