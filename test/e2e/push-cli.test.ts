// `sft push` as a user runs it, against the local Hub stand-in (HF_ENDPOINT, HF_TOKEN): a trained
// and evaluated run folder goes up with a model card whose numbers are the run's own files'.
import { downloadFile } from '@huggingface/hub';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sft } from '../helpers/cli.js';
import { MODEL_FIXTURES } from '../helpers/fixtures.js';
import { startHubServer, type HubServer } from '../helpers/hub-server.js';

const QWEN3 = join(MODEL_FIXTURES, 'qwen3');
const TOKENIZER = join(import.meta.dirname, '..', 'fixtures', 'tokenizers', 'tiny-chatml');

let hub: HubServer;
const work = mkdtempSync(join(tmpdir(), 'nq-push-cli-'));
const saved = { endpoint: process.env.HF_ENDPOINT, token: process.env.HF_TOKEN, home: process.env.HF_HOME };
beforeAll(async () => {
  hub = await startHubServer([]);
  process.env.HF_ENDPOINT = hub.url;
  process.env.HF_HOME = join(work, 'hf-home'); // no saved token from the machine
  delete process.env.HF_TOKEN;
});
afterAll(async () => {
  for (const [key, value] of [['HF_ENDPOINT', saved.endpoint], ['HF_TOKEN', saved.token], ['HF_HOME', saved.home]] as const) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
  await hub.close();
  rmSync(work, { recursive: true, force: true });
});

const TASK = ['--model', 'demo', '--data', 'demo', '--template', 'demo', '--chat', '--label-map', 'positive=positive,negative=negative', '--seed', '5'];

describe('sft push', () => {
  it('uploads a trained, evaluated adapter with a model card holding its recipe and before/after table', async () => {
    const run = join(work, 'run');
    const trained = await sft(['train', ...TASK, '--limit', '48', '--val-split', '0', '--test-split', '16', '--batch-size', '8', '--max-steps', '4', '--lr', '3e-3', '--warmup-steps', '1', '--lora-r', '4', '--out', run]);
    expect(trained.code, trained.stderr).toBe(0);
    const evaluated = await sft(['eval', ...TASK, '--limit', '48', '--val-split', '0', '--test-split', '16', '--adapter', run, '--compare', '--max-new-tokens', '2', '--out', run]);
    expect(evaluated.code, evaluated.stderr).toBe(0);

    const noToken = await sft(['push', '--adapter', run, '--repo', 'me/demo-adapter', '--json']);
    expect(noToken.code).not.toBe(0);
    expect(JSON.parse(noToken.stdout)).toMatchObject({ error: { code: 'HUB_TOKEN_MISSING' } });

    process.env.HF_TOKEN = hub.token;
    const pushed = await sft(['push', '--adapter', run, '--repo', 'me/demo-adapter', '--private']);
    expect(pushed.code, pushed.stderr).toBe(0);
    expect(pushed.stdout).toMatch(new RegExp(`pushed 3 files \\(adapter_config.json, adapter_model.safetensors, README.md\\) to ${hub.url}/me/demo-adapter \\(commit [0-9a-f]{10}\\)`));
    expect(pushed.stderr).toMatch(/created the repo \(private\)[\s\S]*hashed adapter_model\.safetensors[\s\S]*uploaded adapter_model\.safetensors[\s\S]*committing/);

    const get = async (path: string) => Buffer.from(await ((await downloadFile({ repo: 'me/demo-adapter', path, hubUrl: hub.url, accessToken: hub.token })) as Blob).arrayBuffer());
    for (const f of ['adapter_config.json', 'adapter_model.safetensors']) expect((await get(f)).equals(readFileSync(join(run, f))), f).toBe(true);

    const card = (await get('README.md')).toString();
    const report = JSON.parse(readFileSync(join(run, 'eval.json'), 'utf8')) as { base: { acc: number; resp_acc: number; n: number }; adapter: { acc: number; resp_acc: number; n: number } };
    const runRecord = JSON.parse(readFileSync(join(run, 'run.json'), 'utf8')) as { result: { steps: number; finalLoss: number } };
    const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
    expect(card).toMatch(/^---\nlibrary_name: peft\npipeline_tag: text-generation\ntags:\n- node-qlora\n/);
    expect(card).toContain(`| base model (before training) | ${pct(report.base.acc)} | ${pct(report.base.resp_acc)} | ${report.base.n} |`);
    expect(card).toContain(`| with this adapter (after training) | ${pct(report.adapter.acc)} | ${pct(report.adapter.resp_acc)} | ${report.adapter.n} |`);
    expect(card).toContain('| loraR | 4 |');
    expect(card).toContain('| lr | 0.003 |');
    expect(card).toContain(`| steps trained | ${runRecord.result.steps} |`);
    expect(card).toContain(`| final loss | ${runRecord.result.finalLoss.toFixed(4)} |`);
    expect(card).toContain('| rows (train / val / test) | 32 / 0 / 16 |');
    expect(card).toContain('from_pretrained("me/demo-adapter")');
    expect(card).not.toContain(work); // no local paths

    // Another model's repo is not overwritten.
    hub.repos.set('me/taken', { id: 'me/taken', files: { 'model.safetensors': Buffer.from('someone else') } });
    const conflict = await sft(['push', '--adapter', run, '--repo', 'me/taken']);
    expect(conflict.code).not.toBe(0);
    expect(conflict.stderr).toMatch(/me\/taken already exists and holds files this push would not replace \(model\.safetensors\).*\[HUB_REPO_CONFLICT\]/);

    // A merged checkpoint folder, its card from the run folder (--run).
    const merged = join(work, 'merged');
    mkdirSync(merged);
    for (const [from, name] of [[QWEN3, 'config.json'], [QWEN3, 'generation_config.json'], [QWEN3, 'model.safetensors'], [TOKENIZER, 'tokenizer.json'], [TOKENIZER, 'tokenizer_config.json']] as const) {
      copyFileSync(join(from, name), join(merged, name));
    }
    const m = await sft(['push', '--merged', merged, '--run', run, '--repo', 'me/demo-merged', '--json']);
    expect(m.code, m.stderr).toBe(0);
    expect(JSON.parse(m.stdout)).toMatchObject({ created: true, files: ['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'README.md'] });
    const stored = hub.repos.get('me/demo-merged')?.files ?? {};
    expect(stored['model.safetensors']?.equals(readFileSync(join(QWEN3, 'model.safetensors')))).toBe(true);
    const mergedCard = stored['README.md']?.toString() ?? '';
    expect(mergedCard).toMatch(/^---\nlibrary_name: transformers\n/);
    expect(mergedCard).toContain(`| after training (the adapter merged here, scored on its base) | ${pct(report.adapter.acc)} |`);
    expect(mergedCard).toContain('AutoModelForCausalLM.from_pretrained("me/demo-merged")');
  }, 240_000);
});
