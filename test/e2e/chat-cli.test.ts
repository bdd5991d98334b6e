// sft generate --adapter and sft chat, run as a user would (the built CLI as a child process) on
// the demo model with an adapter made here (LoRA on q/v with fixed non-zero B, saved in peft's
// format): the adapter changes the text, equal to the API's generation with it; chat's turns come
// from stdin and its reply to a first message is generate --chat's text; Ctrl-C stops a reply,
// not the chat.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../../src/api/model.js';
import { DEMO_MODEL_DIR } from '../../src/hub/resolve.js';
import { loadTokenizer } from '../../src/tokenize/tokenizer.js';
import { stopTokenIds } from '../../src/eval/generation-task-stop-ids.js';
import { SFT_BIN, sft } from '../helpers/cli.js';
import { makeDemoAdapter } from '../helpers/demo-adapter.js';

const work = mkdtempSync(join(tmpdir(), 'nq-chat-'));
const adapter = join(work, 'adapter');
afterAll(() => rmSync(work, { recursive: true, force: true }));

beforeAll(() => makeDemoAdapter(adapter), 60_000);

/** Runs sft chat with `args`, feeding `lines` one at a time; `onOutput` may act on the output so far. */
function chat(args: string[], script: (io: { write: (line: string) => void; end: () => void; interrupt: () => void; stdout: () => string; stderr: () => string; waitFor: (test: () => boolean) => Promise<void> }) => Promise<void>) {
  const child = spawn(process.execPath, [SFT_BIN, 'chat', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const waiters: (() => void)[] = [];
  const poke = () => waiters.splice(0).forEach((w) => w());
  child.stdout.on('data', (d: Buffer) => ((out += d.toString()), poke()));
  child.stderr.on('data', (d: Buffer) => ((err += d.toString()), poke()));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => child.on('close', (code) => resolve({ code, stdout: out, stderr: err })));
  const waitFor = async (test: () => boolean) => {
    while (!test()) await new Promise<void>((resolve) => waiters.push(resolve));
  };
  return script({ write: (l) => child.stdin.write(`${l}\n`), end: () => child.stdin.end(), interrupt: () => child.kill('SIGINT'), stdout: () => out, stderr: () => err, waitFor }).then(() => done);
}

describe('sft generate --adapter', () => {
  it('--json: the adapter changes the ids, which equal the API with the adapter loaded', async () => {
    const args = ['generate', '--model', 'demo', '--chat', 'Write about a movie.', '--max-new-tokens', '16', '--json'];
    const base = await sft(args);
    const tuned = await sft([...args, '--adapter', adapter]);
    expect(tuned.stderr).toBe('');
    expect(tuned.code).toBe(0);
    const b = JSON.parse(base.stdout) as { ids: number[] };
    const t = JSON.parse(tuned.stdout) as { ids: number[]; text: string };
    expect(t.ids).not.toEqual(b.ids);
    const tokenizer = await loadTokenizer(DEMO_MODEL_DIR);
    await using model = await loadModel(DEMO_MODEL_DIR, { device: 'cpu' });
    await model.loadAdapter(adapter);
    const prompt = await tokenizer.encodeChat([{ role: 'user', content: 'Write about a movie.' }], { addGenerationPrompt: true, enableThinking: false });
    const [ids] = await model.generate([prompt], { maxNewTokens: 16, eosTokenIds: await stopTokenIds(tokenizer, model.eosTokenIds) });
    expect(t.ids).toEqual(ids);
    expect(t.text).toBe(await tokenizer.decode(ids as number[], { skipSpecialTokens: true }));
  });

  it('streamed text (no --json) is the same text; a seed makes sampling repeatable', async () => {
    const args = ['generate', '--model', 'demo', '--adapter', adapter, '--prompt', 'The film', '--max-new-tokens', '20'];
    const json = JSON.parse((await sft([...args, '--json'])).stdout) as { ids: number[]; text: string };
    expect((await sft(args)).stdout).toBe(`${json.text}\n`);
    const sampled = [...args, '--temperature', '1.3', '--top-p', '0.95', '--seed', '11', '--json'];
    const a = JSON.parse((await sft(sampled)).stdout) as { ids: number[] };
    expect(JSON.parse((await sft(sampled)).stdout)).toEqual(a);
    expect(a.ids).not.toEqual(json.ids);
  });

  it('a missing adapter folder fails before the model loads, naming it', async () => {
    const res = await sft(['generate', '--model', 'demo', '--prompt', 'x', '--adapter', join(work, 'nope')]);
    expect(res.code).not.toBe(0);
    expect(res.stderr).toContain(join(work, 'nope'));
  });
});

describe('sft chat', () => {
  it("turns from stdin; the first reply is generate --chat's text; the second sees the first", async () => {
    const first = 'Tell me about a film.';
    const expected = JSON.parse((await sft(['generate', '--model', 'demo', '--adapter', adapter, '--chat', first, '--max-new-tokens', '24', '--json'])).stdout) as { text: string };
    const res = await chat(['--model', 'demo', '--adapter', adapter, '--max-new-tokens', '24'], async (io) => {
      io.write(first);
      io.write('And another one?');
      io.end();
    });
    expect(res.code).toBe(0);
    const lines = res.stdout.split('\n');
    expect(lines[0]).toBe(expected.text);
    expect(lines).toHaveLength(3); // two replies, each ended by a newline
    expect((lines[1] as string).length).toBeGreaterThan(0);
  }, 60_000);

  it('Ctrl-C stops the reply being written, not the chat', async () => {
    const args = ['--model', 'demo', '--min-new-tokens', '300', '--max-new-tokens', '300'];
    const res = await chat(args, async (io) => {
      io.write('Write a long story.');
      await io.waitFor(() => io.stdout().length > 0);
      io.interrupt();
      await io.waitFor(() => io.stderr().includes('(reply stopped)'));
      io.write('Write a long story.');
      io.end();
    });
    expect(res.code).toBe(0);
    const [stopped, full] = res.stdout.split('\n') as [string, string];
    // The second reply (300 tokens, its history holding the stopped one) ran to its end; the first was cut short.
    expect(full.length).toBeGreaterThan(stopped.length * 2);
    expect(res.stderr.match(/\(reply stopped\)/g)).toHaveLength(1);
  }, 60_000);
});
