// Reading a run directory for `sft report`: which files are there, lenient log.jsonl, and
// errors that name the folder and say what a run directory holds.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseTrainLog, readRunDir } from '../../src/eval/run-dir.js';
import { ErrorCode, SftError } from '../../src/errors.js';

const demo = join(import.meta.dirname, '..', 'fixtures', 'runs', 'demo-run');
let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'nq-run-dir-'));
});
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

async function expectRejects(p: Promise<unknown>, code: string, ...mentions: string[]): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SftError);
  expect((err as SftError).code).toBe(code);
  for (const m of mentions) expect((err as SftError).message).toContain(m);
}

/** A copy of the demo run with some files removed or replaced. */
function variant(name: string, drop: string[] = [], replace: Record<string, string> = {}): string {
  const dir = join(work, name);
  cpSync(demo, dir, { recursive: true });
  for (const f of drop) rmSync(join(dir, f));
  for (const [f, text] of Object.entries(replace)) writeFileSync(join(dir, f), text);
  return dir;
}

describe('readRunDir', () => {
  it('reads the demo run', async () => {
    const c = await readRunDir(demo);
    expect(c.missing).toEqual([]);
    expect(c.run?.model.family).toBe('qwen3');
    expect(c.log?.steps).toHaveLength(30);
    expect(c.log?.steps[29]).toMatchObject({ step: 60, epoch: 1 });
    expect(c.eval?.adapter?.acc).toBe(0.93);
  });

  it('accepts a folder with only eval.json', async () => {
    const c = await readRunDir(variant('eval-only', ['run.json', 'log.jsonl']));
    expect(c.missing).toEqual(['run.json', 'log.jsonl']);
    expect(c.eval?.base?.n).toBe(200);
  });

  it('refuses a folder with neither run.json nor eval.json, naming it and the files a run holds', async () => {
    const dir = join(work, 'empty');
    mkdirSync(dir);
    await expectRejects(readRunDir(dir), ErrorCode.FileNotFound, dir, 'no run.json', 'log.jsonl', 'eval.json', 'sft train');
  });

  it('refuses a path that is not a folder', async () => {
    await expectRejects(readRunDir(join(work, 'nope')), ErrorCode.FileNotFound, join(work, 'nope'), 'run.json');
    await expectRejects(readRunDir(join(demo, 'run.json')), ErrorCode.FileNotFound, 'no run directory');
  });

  it('names the file and field of a malformed run.json or eval.json', async () => {
    await expectRejects(readRunDir(variant('bad-json', [], { 'run.json': '{"kind": ' })), ErrorCode.InvalidArgument, 'run.json is not valid JSON');
    await expectRejects(readRunDir(variant('bad-run', [], { 'run.json': '{"kind": "sft-train"}' })), ErrorCode.InvalidArgument, 'run.json is not a run record', 'config');
    const evalBad = JSON.stringify({ kind: 'sft-eval', model: 'm', modelDir: 'd', data: 'x', settings: {}, skipped_rows: 0, skipped: [], created: 'now', base: { n: 1, acc: 1, resp_acc: 1, correct: 1, valid: 1, seconds: 0, confusion: { labels: ['a', 'b'], counts: [[1, 0]] } } });
    await expectRejects(readRunDir(variant('bad-eval', [], { 'eval.json': evalBad })), ErrorCode.InvalidArgument, 'eval.json', 'base.confusion.counts');
  });
});

describe('parseTrainLog', () => {
  it('keeps null values as gaps, reports unreadable lines, keeps the later of a repeated step', () => {
    const text = [
      '{"step":1,"epoch":0,"loss":2,"lr":0.1,"gradNorm":1}',
      '{"step":2,"epoch":0,"loss":null,"lr":0.1,"gradNorm":null}',
      '',
      '{"step":3,"loss":1.5',
      '{"loss":1}',
      '{"step":2,"epoch":0,"loss":1.8,"lr":0.1,"gradNorm":0.9}',
    ].join('\n');
    const log = parseTrainLog(text);
    expect(log.steps).toEqual([
      { step: 1, epoch: 0, loss: 2, lr: 0.1, gradNorm: 1 },
      { step: 2, epoch: 0, loss: 1.8, lr: 0.1, gradNorm: 0.9 },
    ]);
    expect(log.repeated).toBe(1);
    expect(log.unreadable).toEqual([
      { line: 4, reason: 'not JSON' },
      { line: 5, reason: expect.stringContaining('step') },
    ]);
  });

  it('sorts steps and fills absent fields with null', () => {
    const log = parseTrainLog('{"step":5,"loss":1}\n{"step":3,"loss":2}\n');
    expect(log.steps).toEqual([
      { step: 3, loss: 2, lr: null, gradNorm: null },
      { step: 5, loss: 1, lr: null, gradNorm: null },
    ]);
  });
});
