// The readers under fuzz, each with its seed files and how one input is fed to it. They run the
// built package (dist/, `npm run build:ts`) as the CLI does. A reader passes an input when it
// returns or throws an SftError; anything else (TypeError, RangeError, a raw library error, a
// crash, a hang) is a finding.
import { writeFileSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');
const fixture = (...parts) => readFile(join(ROOT, 'test', 'fixtures', ...parts));
const dist = (path) => import(join(ROOT, 'dist', path));

// Chat template seeds beside the fixtures' own: the constructs real templates use (namespace,
// loops with loop.*, slicing, filters, macros, tool calls, raise_exception).
const TEMPLATE_SEEDS = [
  `{%- set ns = namespace(system='', last=-1) -%}
{%- for m in messages -%}{%- if m.role == 'system' -%}{%- set ns.system = m.content -%}{%- endif -%}{%- endfor -%}
{%- if ns.system %}<|system|>{{ ns.system | trim }}<|end|>{% endif -%}
{%- for m in messages[0:] if m.role != 'system' -%}
  {%- if loop.first and m.role != 'user' -%}{{ raise_exception('the first message must be from the user') }}{%- endif -%}
  <|{{ m.role }}|>{{ m.content | replace('\\r', '') }}{% if m.tool_calls is defined %}{% for c in m.tool_calls %}<tool>{{ c.function.name }}({{ c.function.arguments | tojson }})</tool>{% endfor %}{% endif %}<|end|>{{ '\\n' if not loop.last }}
{%- endfor -%}
{%- if add_generation_prompt %}<|assistant|>{% endif -%}`,
  `{% macro render(m, i) %}[{{ i }}:{{ m['role'] | upper }}] {{ m['content'][:200] }}{% endmacro %}{{ bos_token }}{% for m in messages %}{{ render(m, loop.index0) }}{% if m.role == 'assistant' %}{{ eos_token }}{% elif m.role == 'user' and (m.content | length) > 3 %}
{% else %} {% endif %}{% endfor %}{% if tools %}{% for t in tools %}{{ t | tojson(indent=2) }}{% endfor %}{% endif %}{{ strftime_now('%d %b %Y') if add_generation_prompt else '' }}`,
  `{% for i in range(messages | length) %}{% for _ in range(2) %}{% endfor %}{% set m = messages[i] %}{{ '<|im_start|>' ~ m.role ~ '\\n' ~ m.content ~ '<|im_end|>\\n' }}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% if enable_thinking is defined and not enable_thinking %}<think>\n\n</think>\n{% endif %}{% endif %}`,
];

const MESSAGES = [
  { role: 'system', content: 'You label reviews.' },
  { role: 'user', content: 'Great film, 10/10.' },
  { role: 'assistant', content: 'positive', tool_calls: [{ function: { name: 'label', arguments: { value: 'positive' } } }] },
  { role: 'user', content: 'Dull.' },
];

const utf8 = (bytes) => bytes.toString('utf8');

/** @returns {Promise<Array<{name: string, kind: 'binary' | 'text', seeds: Buffer[], run: (bytes: Buffer) => Promise<unknown>}>>} */
export async function loadTargets(workDir) {
  await mkdir(workDir, { recursive: true });
  const { SftError } = await dist('errors.js');
  const { native } = await dist('native.js');
  const { readSafetensorsShapes } = await dist('engine/adapter-fit.js');
  const { readGguf, readTensorBytes } = await dist('gguf/reader.js');
  const { loadTokenizer } = await dist('tokenize/tokenizer.js');
  const { ChatTemplate } = await dist('tokenize/chat-template.js');
  const { parseCsv } = await dist('data/csv.js');
  const { parseJsonl, parseJsonFile } = await dist('data/jsonl.js');
  const { parseParquet } = await dist('data/parquet.js');

  const stFile = join(workDir, 'input.safetensors');
  const ggufFile = join(workDir, 'input.gguf');
  const tokDir = join(workDir, 'tokenizer');
  await mkdir(tokDir, { recursive: true });
  const tokenizerJson = await fixture('tokenizers', 'tiny-chatml', 'tokenizer.json');
  const tokenizerConfig = await fixture('tokenizers', 'tiny-chatml', 'tokenizer_config.json');
  const fixtureTemplate = JSON.parse(utf8(tokenizerConfig)).chat_template;

  return [
    {
      name: 'safetensors',
      kind: 'binary',
      seeds: [await fixture('safetensors', 'python_reference.safetensors'), await fixture('lora', 'llama', 'adapter_init', 'adapter_model.safetensors')],
      // The engine's reader (header, then every tensor's bytes) and the TypeScript header reader
      // the adapter checks use.
      // Both run on every input; an untyped error of either is the finding, else the engine's
      // rejection is the one counted.
      async run(bytes) {
        writeFileSync(stFile, bytes);
        const st = native().safetensors;
        const errors = [];
        try {
          const { tensors } = st.inspect(stFile);
          for (const t of tensors) st.read(stFile, t.name);
        } catch (err) {
          errors.push(err);
        }
        try {
          await readSafetensorsShapes(stFile);
        } catch (err) {
          errors.push(err);
        }
        if (errors.length > 0) throw errors.find((e) => !(e instanceof SftError)) ?? errors[0];
      },
    },
    {
      name: 'gguf',
      kind: 'binary',
      seeds: [await fixture('gguf', 'reader.gguf'), await fixture('gguf', 'tiny', 'qwen2-tied.gguf')],
      async run(bytes) {
        writeFileSync(ggufFile, bytes);
        const file = await readGguf(ggufFile);
        for (const t of file.tensors.slice(0, 4)) await readTensorBytes(file, t, { start: 0, length: Math.min(t.bytes, 4096) });
      },
    },
    {
      name: 'tokenizer',
      kind: 'text',
      seeds: [tokenizerJson, tokenizerConfig],
      // Seed 0 mutated is a tokenizer.json, seed 1 a tokenizer_config.json (told apart by their
      // keys, which mutations rarely touch); the other file stays whole.
      async run(bytes) {
        const isConfig = bytes.includes('"tokenizer_class"') || !bytes.includes('"model"');
        writeFileSync(join(tokDir, 'tokenizer.json'), isConfig ? tokenizerJson : bytes);
        writeFileSync(join(tokDir, 'tokenizer_config.json'), isConfig ? bytes : tokenizerConfig);
        const tokenizer = await loadTokenizer(tokDir);
        const ids = await tokenizer.encode('Hello world <|im_start|>user\nÀ bientôt 🙂<|im_end|>');
        await tokenizer.decode(ids);
        if (tokenizer.hasChatTemplate) await tokenizer.encodeChat(MESSAGES.slice(1, 2), { addGenerationPrompt: true });
      },
    },
    {
      name: 'chat-template',
      kind: 'text',
      seeds: [Buffer.from(fixtureTemplate), ...TEMPLATE_SEEDS.map((t) => Buffer.from(t))],
      async run(bytes) {
        const template = new ChatTemplate({ name: 'default', source: utf8(bytes), origin: 'fuzz/chat_template' });
        template.render(MESSAGES, { bos_token: '<s>', eos_token: '</s>' }, { addGenerationPrompt: true, tools: [{ name: 'label' }] });
      },
    },
    {
      name: 'csv',
      kind: 'text',
      seeds: [await fixture('data', 'reviews.csv'), await fixture('data', 'mixed', 'a.csv')],
      async run(bytes) {
        parseCsv(utf8(bytes), 'fuzz.csv');
        parseCsv(utf8(bytes), 'fuzz.tsv', '\t');
      },
    },
    {
      name: 'jsonl',
      kind: 'text',
      seeds: [await fixture('data', 'mixed', 'b.jsonl'), Buffer.from('[{"text": "good", "label": 1}, {"text": "bad", "label": 0, "meta": {"n": [1, 2.5, null]}}]\n')],
      // As a .jsonl file (one object a line), then as a .json file (an array, else JSON Lines):
      // the input counts as read when the .json reader reads it.
      async run(bytes) {
        try {
          parseJsonl(utf8(bytes), 'fuzz.jsonl');
        } catch (err) {
          if (err?.name !== 'SftError') throw err;
        }
        parseJsonFile(utf8(bytes), 'fuzz.json');
      },
    },
    {
      name: 'parquet',
      kind: 'binary',
      seeds: [await fixture('data', 'reviews.parquet'), await fixture('data', 'mixed', 'c.parquet')],
      async run(bytes) {
        await parseParquet(bytes, 'fuzz.parquet');
      },
    },
  ];
}
