// The engine's thread count is set from JS (setCpuThreads) and reported by buildInfo(); the
// CLI's --threads reaches the engine through NQ_THREADS (checked on a real command in a child
// process, since the count is process-wide).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { buildInfo, setCpuThreads } from '../../src/api/runtime.js';
import { cpuThreads } from '../../src/config/cpu-threads.js';
import { SFT_BIN } from '../helpers/cli.js';

const run = promisify(execFile);

describe('CPU threads', () => {
  it('setCpuThreads(n) sets the intra-op pool; without n it uses the CPUs this process may use', () => {
    expect(setCpuThreads(1)).toBe(1);
    expect(buildInfo().threads).toBe(1);
    const auto = setCpuThreads();
    expect(auto).toBe(cpuThreads());
    expect(buildInfo().threads).toBe(auto);
  });

  it('rejects a count below 1 with INVALID_ARGUMENT', () => {
    expect(() => setCpuThreads(0)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });

  it('NQ_THREADS sets the count of a fresh process; sft --threads N is accepted before a command', async () => {
    const script = `import { setCpuThreads } from ${JSON.stringify(new URL('../../dist/api/runtime.js', import.meta.url).href)}; console.log(setCpuThreads());`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, NQ_THREADS: '3' } });
    expect(stdout.trim()).toBe('3');
    const r = await run(process.execPath, [SFT_BIN, '--threads', '1', 'generate', '--model', 'demo', '--prompt', 'a', '--max-new-tokens', '2', '--min-new-tokens', '2', '--json']);
    expect((JSON.parse(r.stdout) as { ids: number[] }).ids).toHaveLength(2);
  });
});
