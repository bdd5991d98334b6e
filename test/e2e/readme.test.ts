// The README's commands, read from README.md itself: every line of its ```sh blocks is run as
// written where it can run on a CPU with the bundled demo model (`npx sft setup`, `npx sft demo`),
// run offline into an empty Hub cache where it needs a big model or a run folder (it must get
// past the command line: a typed error about the model or the folder, never INVALID_ARGUMENT),
// or checked where CI runs it (`bash scripts/setup.sh` and `npm test` are what .ci/run runs;
// `npm install node-qlora` is what scripts/pack-check.sh does). Every `--flag` of the command
// synopses (the plain ``` blocks that start with `sft`) must be in that command's --help. A new
// README command that fits none of these fails here until it is sorted in.
import { exec, execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SFT_BIN, sft } from '../helpers/cli.js';

const ROOT = join(import.meta.dirname, '..', '..');
const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');

interface Block {
  lang: string;
  lines: string[];
}

/** The fenced code blocks; a synopsis line that starts with spaces continues the one above. */
function codeBlocks(text: string): Block[] {
  const blocks: Block[] = [];
  for (const m of text.matchAll(/^```(\w*)\n([\s\S]*?)^```/gm)) {
    const lines: string[] = [];
    for (const raw of (m[2] as string).split('\n')) {
      const line = raw.replace(/\s+#.*$/, '').trimEnd();
      if (line.trim() === '') continue;
      if (/^\s/.test(line) && lines.length > 0) lines[lines.length - 1] += ` ${line.trim()}`;
      else lines.push(line.replace(/\s+/g, ' '));
    }
    blocks.push({ lang: m[1] as string, lines });
  }
  return blocks;
}

const blocks = codeBlocks(readme);
const shellCommands = blocks.filter((b) => b.lang === 'sh').flatMap((b) => b.lines);
const synopses = blocks.filter((b) => b.lang === '' && b.lines[0]?.startsWith('sft ')).flatMap((b) => b.lines);

/** Run as written on the bundled demo model (CPU, seconds). */
const RUN_AS_WRITTEN = new Set(['npx sft setup', 'npx sft demo']);
/** Run by .ci/run, the README's test command after its setup command. */
const RUN_BY_CI = new Set(['bash scripts/setup.sh', 'npm test']);
/** Done by scripts/pack-check.sh (npm pack, then this install into a fresh project). */
const RUN_BY_PACK_CHECK = new Set(['npm install node-qlora']);
const isSft = (c: string) => /^(npx )?sft /.test(c);

const run = promisify(execFile);
const sh = promisify(exec);
let work: string;
let env: NodeJS.ProcessEnv;

// A project folder whose node_modules/.bin/sft is this checkout's built CLI, as after
// `npm install node-qlora`: `npx sft` and a plain `sft` (its .bin on PATH) both run it, through
// the shell, so a bin without its execute bit fails here.
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'nq-readme-'));
  mkdirSync(join(work, 'node_modules', '.bin'), { recursive: true });
  symlinkSync(SFT_BIN, join(work, 'node_modules', '.bin', 'sft'));
  writeFileSync(join(work, 'package.json'), JSON.stringify({ name: 'readme-check', private: true }));
  mkdirSync(join(work, 'hub'));
  env = {
    ...process.env,
    PATH: `${join(work, 'node_modules', '.bin')}${delimiter}${process.env.PATH ?? ''}`,
    HF_HUB_CACHE: join(work, 'hub'),
    HF_HUB_OFFLINE: '1',
    npm_config_yes: 'false',
  };
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function shell(command: string, timeout = 120_000): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await sh(command, { cwd: work, env, timeout });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('README.md', () => {
  it('has the quick start, the CLI examples and the synopses this test reads', () => {
    expect(shellCommands).toEqual(expect.arrayContaining([...RUN_BY_CI, ...RUN_AS_WRITTEN]));
    expect(shellCommands.filter(isSft).length).toBeGreaterThanOrEqual(3);
    expect(synopses.map((s) => s.split(' ')[1])).toEqual(
      expect.arrayContaining(['train', 'eval', 'demo', 'models', 'import', 'report', 'generate', 'quantize']),
    );
  });

  it('every command of its sh blocks is run here, by CI or by the pack check', () => {
    const unsorted = shellCommands.filter((c) => !isSft(c) && !RUN_BY_CI.has(c) && !RUN_BY_PACK_CHECK.has(c));
    expect(unsorted, 'README commands this test does not know how to check: sort them in test/e2e/readme.test.ts').toEqual([]);
  });

  it('.ci/run runs the quick start as written (bash scripts/setup.sh, then npm test) and installs nothing the setup does not', () => {
    const ci = readFileSync(join(ROOT, '.ci', 'run'), 'utf8')
      .split('\n')
      .filter((l) => !l.trim().startsWith('#'))
      .join('\n');
    expect(ci).toMatch(/^if ! bash scripts\/setup\.sh; then$/m);
    expect(ci).toMatch(/^npm test\b/m);
    expect(ci.indexOf('bash scripts/setup.sh')).toBeLessThan(ci.indexOf('npm test'));
    for (const extra of [/\bpip\b/, /apt-get/, /fetch-models/, /SETUP_SKIP/, /npm ci/, /npm run build/]) expect(ci).not.toMatch(extra);
    expect(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts.test).toBe('vitest run');
  });

  it('`npm install node-qlora` is what scripts/pack-check.sh does with the packed tarball, then `npx sft demo` there', () => {
    const check = readFileSync(join(ROOT, 'scripts', 'pack-check.sh'), 'utf8');
    expect(check).toMatch(/^npm install .*"\$work\/\$tarball"/m);
    expect(check).toMatch(/^npx --no-install sft demo/m);
  });

  it('`npx sft` runs inside the repo (the bin is executable after the build)', async () => {
    const version = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version as string;
    const { stdout } = await run('npx', ['--no-install', 'sft', '--version'], { cwd: ROOT, env: { ...process.env, npm_config_yes: 'false' } });
    expect(stdout.trim()).toBe(version);
  });

  for (const command of shellCommands.filter((c) => RUN_AS_WRITTEN.has(c))) {
    it(`\`${command}\` runs as written and succeeds`, async () => {
      const res = await shell(command, 300_000);
      expect(res.code, `${res.stdout}\n${res.stderr}`).toBe(0);
      if (command === 'npx sft demo') {
        // The seed's table, and a run folder `sft report runs/demo` draws (as the README says).
        expect(res.stdout).toMatch(/^model +acc +resp_acc +acc_bf_train +resp_acc_bf_train$/m);
        expect(res.stdout).toMatch(/^demo +\d\.\d{4} +\d\.\d{4} +\d\.\d{4} +\d\.\d{4}$/m);
        const report = await shell('npx sft report runs/demo');
        expect(report.code, report.stderr).toBe(0);
        expect(existsSync(join(work, 'runs', 'demo', 'report.html'))).toBe(true);
      }
    }, 320_000);
  }

  for (const command of shellCommands.filter((c) => isSft(c) && !RUN_AS_WRITTEN.has(c))) {
    it(`\`${command}\` gets past the command line (offline, empty Hub cache: a typed error about the model or folder)`, async () => {
      const res = await shell(`${command} --json`);
      expect(res.code, res.stderr).not.toBe(0);
      const { error } = JSON.parse(res.stdout) as { error: { code: string; message: string } };
      expect(error.code, error.message).not.toBe('INVALID_ARGUMENT');
      expect(['HUB_OFFLINE', 'FILE_NOT_FOUND'], error.message).toContain(error.code);
    });
  }

  for (const synopsis of synopses) {
    const sub = synopsis.split(' ')[1] as string;
    it(`the flags of \`sft ${sub}\`'s synopsis are in \`sft ${sub} --help\``, async () => {
      const help = await sft([sub, '--help']);
      expect(help.code, help.stderr).toBe(0);
      const flags = [...new Set(synopsis.match(/--[a-z][a-z0-9-]*/g) ?? [])];
      const listed = new Set(help.stdout.match(/--[a-z][a-z0-9-]*/g) ?? []);
      expect(flags.filter((f) => !listed.has(f)), `flags of the README's synopsis missing from sft ${sub} --help`).toEqual([]);
    });
  }
});
