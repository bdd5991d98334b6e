// `sft quantize` and `sft generate --quant` run as a user would (the built CLI).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sft } from '../helpers/cli.js';


let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'nq-quantize-cli-'));
});
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

describe('sft quantize', () => {
  it('writes a bnb-layout checkpoint that generates what quantizing on load generates', async () => {
    const out = join(work, 'demo-nf4');
    const res = await sft(['quantize', '--model', 'demo', '--out', out, '--json']);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const summary = JSON.parse(res.stdout) as { quantized: number; copied: number };
    expect(summary.quantized).toBe(4 * 7); // the demo's 4 layers x q, k, v, o, gate, up, down
    for (const f of ['model.safetensors', 'config.json', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json']) {
      expect(existsSync(join(out, f)), f).toBe(true);
    }
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as { quantization_config: Record<string, unknown> };
    expect(config.quantization_config).toMatchObject({ quant_method: 'bitsandbytes', load_in_4bit: true, bnb_4bit_quant_type: 'nf4', bnb_4bit_use_double_quant: true });
    expect(readFileSync(join(out, 'config.json'), 'utf8')).toContain('"llm_int8_threshold": 6.0');

    const prompt = ['--prompt', 'The movie was', '--max-new-tokens', '12', '--json'];
    const stored = await sft(['generate', '--model', out, ...prompt]);
    const onLoad = await sft(['generate', '--model', 'demo', '--quant', 'nf4', ...prompt]);
    expect(stored.code).toBe(0);
    expect(onLoad.code).toBe(0);
    expect(JSON.parse(stored.stdout)).toEqual(JSON.parse(onLoad.stdout));
  });

  it('fp4 without double quantization', async () => {
    const out = join(work, 'demo-fp4');
    const res = await sft(['quantize', '--model', 'demo', '--out', out, '--quant', 'fp4', '--no-double-quant']);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('stored fp4');
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as { quantization_config: Record<string, unknown> };
    expect(config.quantization_config).toMatchObject({ bnb_4bit_quant_type: 'fp4', bnb_4bit_use_double_quant: false });
  });

  it('refuses a checkpoint that is already quantized', async () => {
    const res = await sft(['quantize', '--model', join(work, 'demo-nf4'), '--out', join(work, 'again')]);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('already quantized');
  });

  it('refuses an unknown --quant', async () => {
    const res = await sft(['quantize', '--model', 'demo', '--out', join(work, 'x'), '--quant', 'int3']);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('quant');
  });
});
