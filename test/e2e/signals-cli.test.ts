// `sft train` stopped by SIGINT, SIGTERM or SIGHUP mid-run: it finishes the step, saves a
// checkpoint, prints the command that resumes it and exits 130 / 143 / 129; that command then
// finishes the run with the adapter of an uninterrupted run, bit for bit (fp32 CPU, tiny model).
// A second SIGINT exits at once, and the run still resumes to the same adapter.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adapterTensors } from '../helpers/demo-run.js';
import { SFT_BIN, sft } from '../helpers/cli.js';

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'nq-signals-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

// 48 rows, 8 per step: 6 steps per epoch, 36 in all (long enough for a signal to land mid-run).
const trainArgs = (out: string) => [
  'train', '--model', 'demo', '--data', 'demo', '--template', 'demo', '--chat', '--label-map', 'positive=positive,negative=negative',
  '--max-seq-len', '96', '--limit', '48', '--batch-size', '8', '--epochs', '6', '--lr', '1e-3', '--warmup-steps', '2',
  '--lora-r', '8', '--lora-dropout', '0.1', '--device', 'cpu', '--out', out,
];

const adapterOf = adapterTensors;

/**
 * Runs the CLI and sends it `signals`: the first once its stderr shows step 2, each next one once
 * it acknowledged the one before (signals of one kind sent together would merge into one).
 */
function interruptedRun(args: string[], signals: NodeJS.Signals[], toGroup = false): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    // toGroup: the CLI leads a process group of its own and each signal goes to the whole group, as a terminal sends it.
    const child = spawn(process.execPath, [SFT_BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'], detached: toGroup });
    const send = (signal: NodeJS.Signals | undefined) => (toGroup ? process.kill(-(child.pid as number), signal) : child.kill(signal));
    let stderr = '';
    let sent = 0;
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (text: string) => {
      stderr += text;
      const due = sent === 0 ? /step 2\/36/.test(stderr) : stderr.includes('stopping after the current step');
      if (sent < signals.length && due) send(signals[sent++]);
    });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stderr }));
  });
}

/** The `sft ...` command the stopped run printed, as arguments. */
function printedResumeArgs(stderr: string): string[] {
  const line = /^resume with: sft (.*)$/m.exec(stderr)?.[1];
  expect(line, stderr).toBeDefined();
  return (line as string).split(' ');
}

describe('sft train under signals', () => {
  let reference: [string, string][];
  beforeAll(async () => {
    const out = join(work, 'full');
    const r = await sft(trainArgs(out));
    expect(r.code, r.stderr).toBe(0);
    reference = adapterOf(out);
  }, 120_000);

  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ] as const)('%s: checkpoint, resume command, exit %i; the command resumes to the uninterrupted adapter', async (signal, exitCode) => {
    const out = join(work, signal);
    const stopped = await interruptedRun(trainArgs(out), [signal]);
    expect(stopped.code, stopped.stderr).toBe(exitCode);
    expect(stopped.stderr).toContain(`sft: ${signal}: stopping after the current step`);
    expect(stopped.stderr).toContain(`(exit status ${exitCode}: stopped by ${signal}) [ABORTED]`);
    const saved = /training stopped at step (\d+) \((SIG\w+)\); checkpoint saved to (\S+) \(step \d+\), continue with --resume/.exec(stopped.stderr);
    expect(saved, stopped.stderr).not.toBeNull();
    const [, step, by, dir] = saved as unknown as [string, string, string, string];
    expect(by).toBe(signal);
    expect(dir).toBe(join(out, 'checkpoints', `step-${step}`));
    expect(existsSync(join(dir, 'trainer_state.json'))).toBe(true);
    expect(existsSync(join(out, 'adapter_model.safetensors'))).toBe(false);

    const args = printedResumeArgs(stopped.stderr);
    expect(args).toEqual([...trainArgs(out).slice(0), '--resume']);
    const resumed = await sft(args);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toContain(`resumed from ${dir} at step ${step}`);
    expect(resumed.stdout).toMatch(/trained 36 steps/);
    expect(adapterOf(out)).toEqual(reference);
  }, 120_000);

  it('a second SIGINT exits 130 at once; the run still resumes to the uninterrupted adapter', async () => {
    const out = join(work, 'twice');
    const stopped = await interruptedRun(trainArgs(out), ['SIGINT', 'SIGINT']);
    // 130 from its handler, or SIGINT's own default when it lands as the process ends: the shell's 130 either way.
    expect(stopped.code ?? 128 + constants.signals[stopped.signal as NodeJS.Signals], stopped.stderr).toBe(130);
    const resumed = await sft([...trainArgs(out), '--resume']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(adapterOf(out)).toEqual(reference);
  }, 120_000);

  it('SIGHUP to the process group of a data-parallel run: rank 0 checkpoints and exits 129; --resume finishes', async () => {
    const out = join(work, 'world-2');
    const args = [...trainArgs(out), '--world-size', '2'];
    const stopped = await interruptedRun(args, ['SIGHUP'], true);
    expect(stopped.code, stopped.stderr).toBe(129);
    expect(stopped.stderr).toMatch(/training stopped at step \d+ \(SIGHUP\); checkpoint saved to/);
    const resumed = await sft(printedResumeArgs(stopped.stderr));
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toMatch(/trained 36 steps/);
  }, 120_000);
});
