// Resume after any interruption gives the uninterrupted run's adapter, bit for bit (fp32 CPU,
// the bundled tiny model, LoRA dropout on so the RNG state must come back too). A test worker
// (test/helpers/train-and-kill.mjs, running dist/) kills itself with SIGKILL at chosen moments,
// inside a checkpoint save included; the run folder it leaves is resumed here. Also: a folder
// with run.json and no checkpoint restarts, a finished run is left unchanged, hand-edited
// checkpoint fields are refused, and a checkpoint of another rank is named as such.
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProgressEvent } from '../../src/api/progress.js';
import { train } from '../../src/api/train.js';
import { adapterTensors, demoRunOptions } from '../helpers/demo-run.js';

const run = promisify(execFile);
const KILL_WORKER = join(import.meta.dirname, '..', 'helpers', 'train-and-kill.mjs');

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'nq-resume-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const options = demoRunOptions;
const adapterOf = adapterTensors;
const loggedSteps = (out: string) => readFileSync(join(out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { step: number }).step);
const leftovers = (dir: string) => (existsSync(dir) ? readdirSync(dir).filter((n) => n.includes('.tmp-')) : []);

/** Runs the kill worker; resolves with the signal that ended it (null: it finished). */
async function killedRun(out: string, killAt: string): Promise<string | null> {
  try {
    await run(process.execPath, [KILL_WORKER], { env: { ...process.env, NQ_TEST_TRAIN_OPTIONS: JSON.stringify(options(out)), NQ_TEST_KILL_AT: killAt }, timeout: 60_000 });
    return null;
  } catch (err) {
    return (err as { signal?: string }).signal ?? `exit ${(err as { code?: number }).code}: ${(err as { stderr?: string }).stderr}`;
  }
}

describe('resume after kill -9 at any moment', () => {
  let reference: [string, string][];

  beforeAll(async () => {
    const full = await train(options(join(work, 'full')));
    expect(full.steps).toBe(12);
    reference = adapterOf(join(work, 'full'));
  }, 60_000);

  it.each([
    ['checkpoint-save:8', 'step-6', 'inside the save of step 8: the temporary folder is left, step 6 is the newest checkpoint'],
    ['step:3', undefined, 'before step 3: no checkpoint yet, run.json written'],
    ['after-checkpoint:4', 'step-4', 'right after checkpoint 4'],
    ['final-adapter', 'step-12', 'after the last checkpoint and the final adapter, before run.json is finished'],
  ])('killed at %s: resume: true gives the uninterrupted adapter', async (killAt, newest, _what) => {
    const out = join(work, `killed-${killAt.replace(':', '-')}`);
    expect(await killedRun(out, killAt)).toBe('SIGKILL');
    const checkpoints = join(out, 'checkpoints');
    const complete = existsSync(checkpoints) ? readdirSync(checkpoints).filter((n) => /^step-\d+$/.test(n)) : [];
    expect(complete.sort((a, b) => Number(a.slice(5)) - Number(b.slice(5))).at(-1)).toBe(newest);
    if (killAt.startsWith('checkpoint-save')) expect(leftovers(checkpoints)).toHaveLength(1); // step-8.tmp-PID-N of the dead worker
    expect(JSON.parse(readFileSync(join(out, 'run.json'), 'utf8'))).not.toHaveProperty('finished');

    const events: ProgressEvent[] = [];
    const resumed = await train({ ...options(out), resume: true }, { onProgress: (e) => events.push(e) });
    expect(resumed.steps).toBe(12);
    expect(resumed.finalLoss).toBeTypeOf('number');
    expect(adapterOf(out)).toEqual(reference);
    expect(loggedSteps(out)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    expect(leftovers(checkpoints)).toEqual([]); // the dead worker's temporaries went with the next save
    expect(leftovers(out)).toEqual([]);
    const message = events.map((e) => (e.phase === 'model' ? e.message : '')).join('\n');
    expect(message).toContain(newest ? `resumed from ${join(checkpoints, newest)}` : 'starting it again from step 0');
  }, 60_000);

  it.each([100, 250, 400])('killed %i ms into training, wherever it is: resume: true gives the uninterrupted adapter', async (ms) => {
    const out = join(work, `killed-after-${ms}ms`);
    const ended = await killedRun(out, `after-ms:${ms}`);
    expect([null, 'SIGKILL']).toContain(ended); // null: the run finished before the timer fired
    const resumed = await train({ ...options(out), resume: true });
    expect(resumed.steps).toBe(12);
    expect(adapterOf(out)).toEqual(reference);
    expect(loggedSteps(out)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
  }, 60_000);

  it('two SIGINTs inside the save of step 8 end the process by SIGINT; step 6 is intact and resume gives the uninterrupted adapter', async () => {
    const out = join(work, 'sigint-twice');
    expect(await killedRun(out, 'sigint-twice-in-save:8')).toBe('SIGINT');
    const checkpoints = join(out, 'checkpoints');
    expect(readdirSync(checkpoints).filter((n) => /^step-\d+$/.test(n)).sort()).toEqual(['step-4', 'step-6']);
    expect(leftovers(checkpoints)).toHaveLength(1); // the unfinished step-8 folder, under its temporary name
    const resumed = await train({ ...options(out), resume: true });
    expect(resumed.steps).toBe(12);
    expect(adapterOf(out)).toEqual(reference);
  }, 60_000);

  it('a run folder with run.json and no checkpoint restarts without --resume too', async () => {
    const out = join(work, 'no-checkpoint');
    expect(await killedRun(out, 'step:2')).toBe('SIGKILL');
    expect(existsSync(join(out, 'run.json'))).toBe(true);
    const again = await train(options(out));
    expect(again.steps).toBe(12);
    expect(adapterOf(out)).toEqual(reference);
  }, 60_000);

  it('resuming a finished run says so and changes nothing', async () => {
    const out = join(work, 'full');
    const files = ['run.json', 'log.jsonl', 'adapter_model.safetensors', 'adapter_config.json'];
    const before = files.map((f) => [readFileSync(join(out, f), 'utf8'), statSync(join(out, f)).mtimeMs]);
    const record = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')) as { result: { steps: number; finalLoss: number } };
    const events: ProgressEvent[] = [];
    const r = await train({ ...options(out), resume: true }, { onProgress: (e) => events.push(e) });
    expect(r).toMatchObject({ steps: 12, finalLoss: record.result.finalLoss });
    expect(r.finalLoss).toBeTypeOf('number');
    expect(events).toEqual([{ phase: 'model', message: expect.stringMatching(/is a finished run \(12 steps, finished .*\); nothing to resume, nothing was changed/) }]);
    expect(files.map((f) => [readFileSync(join(out, f), 'utf8'), statSync(join(out, f)).mtimeMs])).toEqual(before);
  });
});

describe('checkpoint fields are checked on resume', () => {
  let source: string;
  beforeAll(async () => {
    source = join(work, 'source');
    await train({ ...options(source), epochs: 1, maxSteps: 4 });
  }, 60_000);

  /** A stopped run's folder: an unfinished run.json and a copy of checkpoint step-4 of `source` as `name`, its trainer_state.json edited. */
  function editedCheckpoint(tag: string, edit: (state: Record<string, unknown>) => void, name = 'step-4'): string {
    const out = join(work, `edited-${tag}`);
    const dir = join(out, 'checkpoints', name);
    cpSync(join(source, 'checkpoints', 'step-4'), dir, { recursive: true });
    const file = join(dir, 'trainer_state.json');
    const state = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    edit(state);
    writeFileSync(file, JSON.stringify(state));
    const { finished: _f, result: _r, ...unfinished } = JSON.parse(readFileSync(join(source, 'run.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(out, 'run.json'), JSON.stringify(unfinished));
    return out;
  }
  const resumeIn = (out: string, extra: Record<string, unknown> = {}) => train({ ...options(out), epochs: 1, maxSteps: 4, ...extra, resume: true });

  it.each([
    ['step 1e9', (s: Record<string, unknown>) => Object.assign(s, { step: 1e9, optimizerStep: 1e9 }), 'step-4', 'says step 1000000000, beyond the run\'s 4 steps'],
    ['a negative step', (s: Record<string, unknown>) => Object.assign(s, { step: -1 }), 'step-4', 'step: Too small'],
    ['a fractional step', (s: Record<string, unknown>) => Object.assign(s, { step: 2.5 }), 'step-4', 'step: Invalid input: expected int'],
    ['an optimizer step that disagrees', (s: Record<string, unknown>) => Object.assign(s, { optimizerStep: 3 }), 'step-4', 'says step 4 but optimizerStep 3'],
    ['an epoch that does not hold the step', (s: Record<string, unknown>) => Object.assign(s, { epoch: 1 }), 'step-4', 'says step 4 in epoch 1, but epochs of 6 steps put that step in epoch 0'],
    ['a step the folder name contradicts', (s: Record<string, unknown>) => Object.assign(s, { step: 3, optimizerStep: 3 }), 'step-4', 'says step 3 in a folder named step-4'],
    ['no options', (s: Record<string, unknown>) => delete s.options, 'step-4', 'options: Invalid input'],
    ['an epoch without the epoch length', (s: Record<string, unknown>) => delete s.stepsPerEpoch, 'step-4', 'epoch: epoch and stepsPerEpoch come together'],
  ])('%s is CHECKPOINT_INVALID, before anything is loaded or written', async (tag, edit, name, message) => {
    const out = editedCheckpoint(tag.replaceAll(' ', '-'), edit, name);
    await expect(resumeIn(out)).rejects.toMatchObject({ code: 'CHECKPOINT_INVALID', message: expect.stringContaining(message) });
    expect(existsSync(join(out, 'log.jsonl'))).toBe(false);
    expect(existsSync(join(out, 'adapter_model.safetensors'))).toBe(false);
  });

  it('epochs of another length (the training rows changed) are refused naming both', async () => {
    const out = editedCheckpoint('rows-changed', () => {});
    // 40 rows make 5 steps per epoch; maxSteps keeps the run's total at 4 steps.
    await expect(resumeIn(out, { limit: 40 })).rejects.toMatchObject({
      code: 'CHECKPOINT_INVALID',
      message: expect.stringContaining('its epochs held 6 optimizer steps, this run\'s hold 5'),
    });
  });

  it('a checkpoint of another LoRA rank says the rank differs', async () => {
    const out = editedCheckpoint('rank', () => {});
    await expect(resumeIn(out, { loraR: 16 })).rejects.toMatchObject({
      code: 'ADAPTER_MISMATCH',
      message: expect.stringContaining('has rank 8 but this run\'s adapter has rank 16 (--lora-r): a different rank'),
    });
  });

  it('resume with no run.json and no checkpoint names the folder', async () => {
    await expect(train({ ...options(join(work, 'empty')), resume: true })).rejects.toMatchObject({
      code: 'FILE_NOT_FOUND',
      message: expect.stringContaining('nothing to resume in'),
    });
  });
});
