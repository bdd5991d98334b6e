// `sft train --config run.json` reproduces a finished run: the same settings and the same adapter
// bytes (CPU fp32 is deterministic for a given seed); and a YAML config drives `sft eval`.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sft } from '../helpers/cli.js';

const work = mkdtempSync(join(tmpdir(), 'nq-config-cli-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const runConfig = (dir: string) => (JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8')) as { config: Record<string, unknown> }).config;

describe('sft train --config run.json', () => {
  it('a second run from the first run.json (only --out typed) has the same settings and the same adapter', async () => {
    const first = join(work, 'first');
    const flags = [
      'train', '--model', 'demo', '--data', 'demo', '--template', 'demo', '--chat', '--label-map', 'positive=positive,negative=negative',
      '--limit', '32', '--val-split', '0', '--batch-size', '8', '--grad-accum', '2', '--max-steps', '3', '--lr', '3e-3', '--warmup-steps', '1',
      '--lora-r', '4', '--lora-alpha', '8', '--lora-targets', 'q_proj,v_proj', '--seed', '11', '--no-gradient-checkpointing', '--device', 'cpu',
    ];
    const a = await sft([...flags, '--out', first]);
    expect(a.code, a.stderr).toBe(0);

    const second = join(work, 'second');
    const b = await sft(['train', '--config', join(first, 'run.json'), '--out', second]);
    expect(b.code, b.stderr).toBe(0);
    const { out: outA, ...configA } = runConfig(first);
    const { out: outB, ...configB } = runConfig(second);
    expect([outA, outB]).toEqual([first, second]);
    expect(configB).toEqual(configA);
    expect(configA).toMatchObject({ loraR: 4, loraAlpha: 8, loraTargets: ['q_proj', 'v_proj'], seed: 11, gradientCheckpointing: false, maxSteps: 3 });
    expect(readFileSync(join(second, 'adapter_model.safetensors')).equals(readFileSync(join(first, 'adapter_model.safetensors')))).toBe(true);
    expect(JSON.parse(readFileSync(join(second, 'adapter_config.json'), 'utf8'))).toEqual(JSON.parse(readFileSync(join(first, 'adapter_config.json'), 'utf8')));

    // A YAML config drives eval the same way; a typed flag overrides it; an unknown key names the closest flag.
    const evalYaml = join(work, 'eval.yaml');
    writeFileSync(evalYaml, `model: demo\nadapter: ${first}\ndata: demo\ntemplate: demo\nchat: true\nlabel-map: positive=positive,negative=negative\nlimit: 16\nbatch-size: 8\nmax-new-tokens: 2\n`);
    const e = await sft(['eval', '--config', evalYaml, '--limit', '8', '--json']);
    expect(e.code, e.stderr).toBe(0);
    expect((JSON.parse(e.stdout) as { n: number }).n).toBe(8);
    writeFileSync(evalYaml, 'model: demo\ndata: demo\nmax-new-token: 2\n');
    const bad = await sft(['eval', '--config', evalYaml]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/unknown key 'max-new-token' for sft eval; did you mean --max-new-tokens\? .*\[INVALID_ARGUMENT\]/);
  }, 240_000);
});
