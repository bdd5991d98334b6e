// Output paths are checked for kind and writability before any work (OUTPUT_NOT_WRITABLE naming
// the path), and train() / evaluate() fail that way before the data is read or the model loads.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { evaluate } from '../../src/api/evaluate.js';
import { train } from '../../src/api/train.js';
import { SftError } from '../../src/errors.js';
import { checkOutputPath } from '../../src/io/output-path.js';
import { expectSftError } from '../helpers/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'nq-outpath-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const aFile = join(dir, 'a-file');
writeFileSync(aFile, 'x');

describe('checkOutputPath', () => {
  it('a path under /proc, /sys or /dev is refused at once (before: /proc/x spun forever)', () => {
    expectSftError(() => checkOutputPath('/proc/x', 'folder'), 'OUTPUT_NOT_WRITABLE', '/proc/x', 'virtual file system');
    expectSftError(() => checkOutputPath('/sys/kernel/out', 'folder'), 'OUTPUT_NOT_WRITABLE', '/sys/kernel/out');
    expectSftError(() => checkOutputPath('/dev/null', 'file'), 'OUTPUT_NOT_WRITABLE', '/dev/null');
  });

  it('an existing file where a folder is expected, and a folder where a file is', () => {
    expectSftError(() => checkOutputPath(aFile, 'folder'), 'OUTPUT_NOT_WRITABLE', aFile, 'a regular file, where a folder is expected');
    expectSftError(() => checkOutputPath(dir, 'file'), 'OUTPUT_NOT_WRITABLE', dir, 'a folder, where a file is expected');
  });

  it('a path below a regular file cannot be created', () => {
    const below = join(aFile, 'run', 'x');
    expectSftError(() => checkOutputPath(below, 'folder'), 'OUTPUT_NOT_WRITABLE', below, `${aFile} is a regular file, not a folder`);
  });

  it.skipIf(process.getuid?.() === 0)('a read-only folder (skipped as root, who may write anywhere)', () => {
    const ro = join(dir, 'ro');
    mkdirSync(ro);
    chmodSync(ro, 0o555);
    expectSftError(() => checkOutputPath(join(ro, 'run'), 'folder'), 'OUTPUT_NOT_WRITABLE', join(ro, 'run'), 'read-only');
    chmodSync(ro, 0o755);
  });

  it('new folders under a writable one, existing folders and files are accepted, and nothing is created', () => {
    expect(() => checkOutputPath(join(dir, 'new', 'deeper'), 'folder')).not.toThrow();
    expect(() => checkOutputPath(dir, 'folder')).not.toThrow();
    expect(() => checkOutputPath(aFile, 'file')).not.toThrow();
    expect(() => checkOutputPath(join(dir, 'report.html'), 'file')).not.toThrow();
    expect(existsSync(join(dir, 'new'))).toBe(false);
  });
});

describe('train() and evaluate() check --out first', () => {
  const code = async (p: Promise<unknown>) => ((await p.then(() => undefined, (e: unknown) => e)) as SftError | undefined);

  it('an --out that is a file fails before the (missing) model and data are looked at', async () => {
    const t = await code(train({ model: 'no-such-model', data: 'no-such.csv', out: aFile }));
    expect(t).toBeInstanceOf(SftError);
    expect([t?.code, t?.message]).toEqual(['OUTPUT_NOT_WRITABLE', expect.stringContaining(aFile)]);
    const e = await code(evaluate({ model: 'no-such-model', data: 'no-such.csv', out: '/proc/x' }));
    expect([e?.code, e?.message]).toEqual(['OUTPUT_NOT_WRITABLE', expect.stringContaining('/proc/x')]);
  });
});
