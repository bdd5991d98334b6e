// `sft generate` run as a user would: the built CLI (dist/) as a child process.
import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { SFT_BIN as bin, sft } from '../helpers/cli.js';
import { loadModel } from '../../src/api/model.js';
import { loadTokenizer } from '../../src/tokenize/tokenizer.js';
import { DEMO_MODEL_DIR } from '../../src/hub/resolve.js';
import { MODEL_FIXTURES } from '../helpers/fixtures.js';
import { readFileSync } from 'node:fs';

interface DemoCase {
  kind: 'prompt' | 'chat';
  text: string;
  prompt_ids: number[];
  max_new_tokens: number;
  new_ids: number[];
  new_text: string;
}
// transformers' greedy output on the demo model (scripts/reference/make_demo_reference.py).
const demoReference = JSON.parse(
  readFileSync(join(import.meta.dirname, '..', 'fixtures', 'demo-reference.json'), 'utf8'),
) as { cases: DemoCase[] };


describe('sft generate', () => {
  it('the CLI is built (npm run build)', () => {
    expect(existsSync(bin)).toBe(true);
  });

  it.each(demoReference.cases)('--$kind "$text" --json gives transformers\' ids and text', async (c) => {
    const res = await sft(['generate', '--model', 'demo', `--${c.kind}`, c.text, '--max-new-tokens', String(c.max_new_tokens), '--json']);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const out = JSON.parse(res.stdout) as { ids: number[]; text: string };
    expect(out.ids).toEqual(c.new_ids);
    expect(out.text).toBe(c.new_text);
  });

  it('prompt tokenization equals transformers (plain and chat)', async () => {
    const tokenizer = await loadTokenizer(DEMO_MODEL_DIR);
    for (const c of demoReference.cases) {
      const ids =
        c.kind === 'chat'
          ? await tokenizer.encodeChat([{ role: 'user', content: c.text }], { addGenerationPrompt: true })
          : await tokenizer.encode(c.text, { addSpecialTokens: true });
      expect(ids).toEqual(c.prompt_ids);
    }
  });

  it('--json prints the new ids and their text, equal to the API on the same prompt', async () => {
    const prompt = 'The movie was';
    const res = await sft(['generate', '--model', 'demo', '--prompt', prompt, '--max-new-tokens', '12', '--json']);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const out = JSON.parse(res.stdout) as { ids: number[]; text: string };
    expect(out.ids.length).toBeGreaterThan(0);
    expect(out.ids.length).toBeLessThanOrEqual(12);

    const tokenizer = await loadTokenizer(DEMO_MODEL_DIR);
    const model = await loadModel(DEMO_MODEL_DIR, { device: 'cpu' });
    try {
      const promptIds = await tokenizer.encode(prompt, { addSpecialTokens: true });
      const [ids] = await model.generate([promptIds], { maxNewTokens: 12 });
      expect(out.ids).toEqual(ids);
      expect(out.text).toBe(await tokenizer.decode(ids!, { skipSpecialTokens: true }));
    } finally {
      await model.dispose();
    }
  });

  it('--chat wraps the message in the chat template and stops at the end of the turn', async () => {
    const res = await sft(['generate', '--model', 'demo', '--chat', 'Review: A dull and boring film. Is this review positive or negative?', '--json']);
    expect(res.code).toBe(0);
    const out = JSON.parse(res.stdout) as { ids: number[]; text: string };
    const model = await loadModel(DEMO_MODEL_DIR, { device: 'cpu' });
    try {
      const last = out.ids[out.ids.length - 1] as number;
      // Either it ended its turn with an EOS id, or it ran to the token limit.
      expect(model.eosTokenIds.includes(last) || out.ids.length === 32).toBe(true);
    } finally {
      await model.dispose();
    }
  });

  it('rejects --prompt together with --chat, naming both', async () => {
    const res = await sft(['generate', '--model', 'demo', '--prompt', 'a', '--chat', 'b']);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('--prompt');
    expect(res.stderr).toContain('--chat');
  });

  it('names a model folder that does not exist', async () => {
    const res = await sft(['generate', '--model', '/nonexistent/model', '--prompt', 'hi']);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('/nonexistent/model');
    expect(res.stderr).toContain('FILE_NOT_FOUND');
  });

  it('rejects a bad --max-new-tokens value', async () => {
    const res = await sft(['generate', '--model', 'demo', '--prompt', 'hi', '--max-new-tokens', 'lots']);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('--max-new-tokens');
  });

  it('a fixture checkpoint without a tokenizer is refused with a clear message', async () => {
    const res = await sft(['generate', '--model', join(MODEL_FIXTURES, 'llama'), '--prompt', 'hi']);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/tokenizer/i);
  });
});
