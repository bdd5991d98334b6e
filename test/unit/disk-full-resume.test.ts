// The disk filling up during a save leaves the previous file (or checkpoint folder) intact,
// fails with DISK_FULL naming the target, leaves no temporary behind, and the run resumes to
// the uninterrupted adapter once there is space again. Two ways to fill the disk:
// - an injected fs layer (this file's vi.mock of node:fs/promises): writes under a chosen
//   folder write half their bytes, then fail with ENOSPC, as a full disk does;
// - a real full disk: a small tmpfs mounted on the checkpoints folder and filled up, so the
//   native safetensors writer meets ENOSPC (needs root; skipped with a line saying so).
// Also: stale temporaries of dead processes are removed by the next write, live ones are kept.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { train } from '../../src/api/train.js';
import { removeStaleTemporaries, writeFileAtomic, writeFolderAtomic, writeJsonAtomic } from '../../src/engine/atomic-write.js';
import { adapterTensors, demoRunOptions } from '../helpers/demo-run.js';
import { NEED, skipWithout } from '../helpers/skip.js';

const disk = vi.hoisted(() => ({ fullUnder: undefined as string | undefined }));

vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>();
  const full = (path: unknown) => disk.fullUnder !== undefined && String(path).startsWith(disk.fullUnder);
  const enospc = (path: unknown) => Object.assign(new Error(`ENOSPC: no space left on device, write '${String(path)}'`), { code: 'ENOSPC', errno: -28, syscall: 'write' });
  const half = (data: string | Uint8Array) => (typeof data === 'string' ? data.slice(0, data.length >> 1) : data.subarray(0, data.length >> 1));
  const writeFile: typeof real.writeFile = async (path, data, options) => {
    if (!full(path)) return real.writeFile(path, data, options);
    await real.writeFile(path, half(data as string | Uint8Array), options);
    throw enospc(path);
  };
  const open: typeof real.open = async (path, flags, mode) => {
    const handle = await real.open(path, flags, mode);
    if (full(path) && flags !== 'r' && flags !== undefined) {
      handle.writeFile = async (data) => {
        await real.appendFile(path, half(data as string | Uint8Array));
        throw enospc(path);
      };
    }
    return handle;
  };
  const appendFile: typeof real.appendFile = async (path, data, options) => {
    if (!full(path)) return real.appendFile(path, data, options);
    await real.appendFile(path, half(data as string | Uint8Array), options);
    throw enospc(path);
  };
  return { ...real, writeFile, open, appendFile, default: { ...real, writeFile, open, appendFile } };
});

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'nq-disk-full-'));
});
afterAll(() => {
  disk.fullUnder = undefined;
  rmSync(work, { recursive: true, force: true });
});

const temporaries = (dir: string) => readdirSync(dir).filter((n) => n.includes('.tmp-'));

describe('atomic writes on a full disk (injected ENOSPC)', () => {
  it('writeFileAtomic keeps the previous file and says DISK_FULL', async () => {
    const dir = join(work, 'file');
    const file = join(dir, 'run.json');
    await writeJsonAtomic(file, { version: 1 });
    disk.fullUnder = dir;
    try {
      await expect(writeFileAtomic(file, 'x'.repeat(10_000))).rejects.toMatchObject({
        code: 'DISK_FULL',
        message: expect.stringContaining(`no space left on the device while writing ${file}`),
      });
    } finally {
      disk.fullUnder = undefined;
    }
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ version: 1 });
    expect(temporaries(dir)).toEqual([]);
  });

  it('writeFolderAtomic keeps the previous folder whole', async () => {
    const target = join(work, 'folder', 'step-4');
    await writeFolderAtomic(target, async (temp) => writeFileSync(join(temp, 'a.txt'), 'old'));
    disk.fullUnder = join(work, 'folder');
    try {
      const { writeFile } = await import('node:fs/promises');
      await expect(writeFolderAtomic(target, (temp) => writeFile(join(temp, 'a.txt'), 'new contents'))).rejects.toMatchObject({ code: 'DISK_FULL' });
    } finally {
      disk.fullUnder = undefined;
    }
    expect(readdirSync(target)).toEqual(['a.txt']);
    expect(readFileSync(join(target, 'a.txt'), 'utf8')).toBe('old');
    expect(temporaries(join(work, 'folder'))).toEqual([]);
  });
});

const options = demoRunOptions;
const adapterOf = adapterTensors;

describe('train() when the disk fills up during a checkpoint save', () => {
  let reference: [string, string][];
  beforeAll(async () => {
    await train(options(join(work, 'full')));
    reference = adapterOf(join(work, 'full'));
  }, 60_000);

  it('injected: DISK_FULL, step-4 intact, no temporary; resume with space gives the uninterrupted adapter', async () => {
    const out = join(work, 'injected');
    const checkpoints = join(out, 'checkpoints');
    const step4 = () => ['adapter_model.safetensors', 'optimizer.safetensors', 'trainer_state.json'].map((f) => readFileSync(join(checkpoints, 'step-4', f)).toString('base64'));
    let before: string[] = [];
    const run = train(options(out), {
      onProgress: (e) => {
        if (e.phase === 'train' && e.step === 5) {
          before = step4();
          disk.fullUnder = checkpoints; // step 6 ends the epoch: its checkpoint is the next write there
        }
      },
    });
    try {
      await expect(run).rejects.toMatchObject({ code: 'DISK_FULL', message: expect.stringContaining(join(checkpoints, 'step-6')) });
    } finally {
      disk.fullUnder = undefined;
    }
    expect(readdirSync(checkpoints)).toEqual(['step-4']);
    expect(step4()).toEqual(before);
    const resumed = await train({ ...options(out), resume: true });
    expect(resumed.steps).toBe(12);
    expect(adapterOf(out)).toEqual(reference);
  }, 60_000);

  it('injected while appending log.jsonl: DISK_FULL; resume drops the half-written line and logs every step once', async () => {
    const out = join(work, 'log-full');
    const log = join(out, 'log.jsonl');
    const run = train(options(out), {
      onProgress: (e) => {
        if (e.phase === 'train' && e.step === 9) disk.fullUnder = log; // step 10's line is half written
      },
    });
    try {
      await expect(run).rejects.toMatchObject({ code: 'DISK_FULL', message: expect.stringContaining('the lines logged before are kept and a resumed run drops a half-written one') });
    } finally {
      disk.fullUnder = undefined;
    }
    const lines = readFileSync(log, 'utf8').split('\n');
    expect(() => JSON.parse(lines.at(-1) as string)).toThrow(); // the half line
    await train({ ...options(out), resume: true });
    const steps = readFileSync(log, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { step: number }).step);
    expect(steps).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    expect(adapterOf(out)).toEqual(reference);
  }, 60_000);

  const canMount = (() => {
    if (process.getuid?.() !== 0) return false;
    const probe = mkdtempSync(join(tmpdir(), 'nq-mount-probe-'));
    const ok = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe]).status === 0;
    if (ok) spawnSync('umount', [probe]);
    rmSync(probe, { recursive: true, force: true });
    return ok;
  })();
  it.skipIf(skipWithout(canMount, 'the real full-disk (tmpfs) test', NEED.mount))('a real full tmpfs: the native writer meets ENOSPC, DISK_FULL, step-4 intact; resume gives the uninterrupted adapter', async () => {
    const out = join(work, 'tmpfs');
    const checkpoints = join(out, 'checkpoints');
    mkdirSync(checkpoints, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', checkpoints]);
    try {
      const filler = join(checkpoints, 'filler');
      const run = train(options(out), {
        onProgress: (e) => {
          if (e.phase === 'train' && e.step === 5) {
            // Fill what is left of the tmpfs: the step-6 checkpoint finds no space.
            const chunk = Buffer.alloc(64 * 1024, 1);
            for (;;) {
              try {
                writeFileSync(filler, chunk, { flag: 'a' });
              } catch {
                break;
              }
            }
          }
        },
      });
      await expect(run).rejects.toMatchObject({ code: 'DISK_FULL', message: expect.stringMatching(/No space left on device/) });
      expect(readdirSync(checkpoints).sort()).toEqual(['filler', 'step-4']);
      rmSync(filler);
      const resumed = await train({ ...options(out), resume: true });
      expect(resumed.steps).toBe(12);
      expect(adapterOf(out)).toEqual(reference);
      expect(temporaries(checkpoints)).toEqual([]);
    } finally {
      execFileSync('umount', [checkpoints]);
    }
  }, 60_000);
});

describe('stale temporaries', () => {
  it('the next write removes those of dead processes and keeps live ones and other files', async () => {
    const dir = join(work, 'stale');
    mkdirSync(dir);
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
    const names = [`adapter_model.safetensors.tmp-${dead}-0`, `run.json.tmp-${dead}-3`, `step-8.tmp-${dead}-1`, `run.json.tmp-${process.ppid}-0`, 'notes.tmp-x-1', 'log.jsonl'];
    for (const name of names) (name.startsWith('step-') ? mkdirSync(join(dir, name)) : writeFileSync(join(dir, name), 'x'));
    await writeJsonAtomic(join(dir, 'run.json'), {});
    expect(readdirSync(dir).sort()).toEqual([`run.json.tmp-${process.ppid}-0`, 'notes.tmp-x-1', 'log.jsonl', 'run.json'].sort());
    expect(await removeStaleTemporaries(join(work, 'missing-folder'))).toEqual([]);
    expect(existsSync(join(dir, 'run.json'))).toBe(true);
  });
});
