// Chat templates: find a model's Jinja chat template on disk and render it the way transformers'
// apply_chat_template does (same variables, same globals), with @huggingface/jinja as the engine.
// Not here: tokenization of the rendered text (tokenizer.ts) and prompt wording (src/data).

import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Environment, Interpreter, Template } from '@huggingface/jinja';
import { ErrorCode, SftError } from '../errors.js';

/** One chat turn. `content` is a string, or a list of parts ({type: 'text', text}) for templates
 * that accept them (Gemma3). Other fields (reasoning_content, tool_calls, ...) reach the template. */
export interface ChatMessage {
  role: string;
  content: string | Array<Record<string, unknown>>;
  [field: string]: unknown;
}

export interface ChatTemplateOptions {
  /** Append the header that opens the assistant's turn. Default false, as in transformers. */
  addGenerationPrompt?: boolean;
  /** Qwen3's switch; passed as `enable_thinking` only when given, so `is defined` checks still work. */
  enableThinking?: boolean;
  /** JSON-schema tool descriptions, passed as `tools` (transformers passes None when absent). */
  tools?: Array<Record<string, unknown>>;
  /** More template variables (e.g. `date_string` for Llama 3.1+); they override special tokens. */
  extra?: Record<string, unknown>;
}

/** A template's text and the file it was read from, named in every error about it. */
export interface ChatTemplateSource {
  name: string;
  source: string;
  origin: string;
}

// Names of a message's reasoning, as transformers 5 aliases them: the first is what templates read.
const REASONING_FIELDS = ['reasoning_content', 'thinking', 'reasoning'] as const;
// Variables the renderer sets itself; `extra` may not replace them (Python would raise a TypeError).
const RESERVED_VARIABLES = new Set(['messages', 'tools', 'documents', 'add_generation_prompt']);

/**
 * Reads the chat templates of a model directory with transformers 5's precedence:
 * chat_template.jinja and additional_chat_templates/*.jinja replace the tokenizer_config.json key;
 * chat_template.json (the legacy processor file of multimodal checkpoints) is the last resort.
 * Returns the templates by name ("default" for the unnamed one); empty when the model has none.
 */
export async function readChatTemplates(
  dir: string,
  config: Record<string, unknown>,
  configPath: string,
): Promise<Map<string, ChatTemplateSource>> {
  const templates = new Map<string, ChatTemplateSource>();

  const jinjaPath = join(dir, 'chat_template.jinja');
  const jinja = await readOptional(jinjaPath);
  if (jinja !== undefined) templates.set('default', { name: 'default', source: jinja, origin: jinjaPath });
  const extraDir = join(dir, 'additional_chat_templates');
  for (const file of await listOptional(extraDir)) {
    if (!file.endsWith('.jinja')) continue;
    const name = file.slice(0, -'.jinja'.length);
    const path = join(extraDir, file);
    templates.set(name, { name, source: await readFile(path, 'utf8'), origin: path });
  }
  if (templates.size > 0) return templates;

  if (config.chat_template !== undefined && config.chat_template !== null) {
    for (const t of parseTemplateField(config.chat_template, `${configPath} (key "chat_template")`)) {
      templates.set(t.name, t);
    }
    return templates;
  }

  const legacyPath = join(dir, 'chat_template.json');
  const legacy = await readOptional(legacyPath);
  if (legacy !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(legacy);
    } catch (e) {
      throw new SftError(`${legacyPath} is not valid JSON: ${(e as Error).message}`, ErrorCode.TokenizerInvalid);
    }
    const field = isRecord(parsed) ? parsed.chat_template : undefined;
    if (field === undefined) {
      throw new SftError(`${legacyPath} has no "chat_template" key`, ErrorCode.TokenizerInvalid);
    }
    for (const t of parseTemplateField(field, `${legacyPath} (key "chat_template")`)) templates.set(t.name, t);
  }
  return templates;
}

/** A chat_template value is a string, or a list of {name, template} (several named templates). */
function parseTemplateField(value: unknown, origin: string): ChatTemplateSource[] {
  if (typeof value === 'string') return [{ name: 'default', source: value, origin }];
  if (Array.isArray(value)) {
    return value.map((entry, i) => {
      if (!isRecord(entry) || typeof entry.name !== 'string' || typeof entry.template !== 'string') {
        throw new SftError(
          `Expected {name: string, template: string} for entry ${i} of ${origin} but received ${JSON.stringify(entry)}`,
          ErrorCode.TokenizerInvalid,
        );
      }
      return { name: entry.name, source: entry.template, origin: `${origin}[name="${entry.name}"]` };
    });
  }
  throw new SftError(
    `Expected a string or a list of {name, template} for ${origin} but received ${typeof value}`,
    ErrorCode.TokenizerInvalid,
  );
}

/** transformers' get_chat_template: "tool_use" when tools are given and it exists, else "default". */
export function selectChatTemplate(
  templates: ReadonlyMap<string, ChatTemplateSource>,
  withTools: boolean,
  dir: string,
): ChatTemplateSource {
  if (templates.size === 0) {
    throw new SftError(
      `The tokenizer in ${dir} has no chat template (looked for chat_template.jinja, the "chat_template" key of ` +
        'tokenizer_config.json and chat_template.json). Use a chat/instruct checkpoint, or format prompts without one.',
      ErrorCode.ChatTemplate,
    );
  }
  const chosen = (withTools ? templates.get('tool_use') : undefined) ?? templates.get('default');
  if (chosen === undefined) {
    throw new SftError(
      `The tokenizer in ${dir} has several chat templates and none is named "default": ` +
        [...templates.keys()].sort().join(', '),
      ErrorCode.ChatTemplate,
    );
  }
  return chosen;
}

// @huggingface/jinja's str.strip / lstrip / rstrip ignore their argument and strip whitespace,
// where Python strips the characters given: Qwen3's template writes an assistant turn as
// content.lstrip('\n'), so an answer that starts with spaces rendered without them (found by
// the multi-turn mask fixtures, test/fixtures/tokenizers/chat-masks.json). The library builds a
// string's methods in a lazy getter on its StringValue class; that getter is wrapped once here
// so that the three methods take Python's optional `chars`.
let pythonStripInstalled = false;

function stripChars(text: string, chars: string, left: boolean, right: boolean): string {
  let start = 0;
  let end = text.length;
  if (left) while (start < end && chars.includes(text[start] as string)) start++;
  if (right) while (end > start && chars.includes(text[end - 1] as string)) end--;
  return text.slice(start, end);
}

function installPythonStrip(): void {
  if (pythonStripInstalled) return;
  pythonStripInstalled = true;
  const probe = new Environment();
  probe.set('s', '');
  const sample = probe.lookupVariable('s') as unknown as { value: string; builtins: Map<string, { value: unknown }> };
  const proto = Object.getPrototypeOf(sample) as object;
  const getter = Object.getOwnPropertyDescriptor(proto, 'builtins')?.get;
  const FunctionValue = sample.builtins.get('upper')?.constructor as (new (fn: (args: unknown[]) => unknown) => { value: unknown }) | undefined;
  if (getter === undefined || FunctionValue === undefined) return; // another library version: its own strip stays
  const StringValue = sample.constructor as new (value: string) => unknown;
  const patched = new WeakSet<object>();
  Object.defineProperty(proto, 'builtins', {
    configurable: true,
    get(this: { value: string }) {
      const map = getter.call(this) as Map<string, unknown>;
      if (!patched.has(map)) {
        patched.add(map);
        for (const [name, left, right] of [['strip', true, true], ['lstrip', true, false], ['rstrip', false, true]] as const) {
          map.set(name, new FunctionValue((args: unknown[]) => {
            const chars = (args[0] as { type?: string; value?: unknown } | undefined)?.value;
            if (typeof chars !== 'string') return new StringValue(left && right ? this.value.trim() : left ? this.value.trimStart() : this.value.trimEnd());
            return new StringValue(stripChars(this.value, chars, left, right));
          }));
        }
      }
      return map;
    },
  });
}

/** A parsed template, ready to render many conversations. */
export class ChatTemplate {
  readonly origin: string;
  private readonly template: Template;

  constructor(source: ChatTemplateSource) {
    this.origin = source.origin;
    installPythonStrip();
    try {
      this.template = new Template(source.source);
    } catch (e) {
      throw new SftError(
        `Cannot parse the chat template from ${source.origin}: ${(e as Error).message}`,
        ErrorCode.ChatTemplate,
      );
    }
  }

  /**
   * Renders `messages` with the variables transformers' apply_chat_template passes:
   * the special-token strings, messages, tools, documents, add_generation_prompt, the options, and
   * the globals raise_exception and strftime_now.
   */
  render(
    messages: readonly ChatMessage[],
    specialTokens: Readonly<Record<string, string>>,
    options: ChatTemplateOptions = {},
  ): string {
    const kwargs: Record<string, unknown> = { ...specialTokens };
    if (options.enableThinking !== undefined) kwargs.enable_thinking = options.enableThinking;
    for (const [key, value] of Object.entries(options.extra ?? {})) {
      if (RESERVED_VARIABLES.has(key)) {
        throw new SftError(
          `Expected no "${key}" in the extra template variables (it is set from the other arguments)`,
          ErrorCode.InvalidArgument,
        );
      }
      kwargs[key] = value;
    }
    const variables: Record<string, unknown> = {
      ...kwargs,
      messages: aliasReasoningFields(messages),
      tools: options.tools ?? null,
      documents: null,
      add_generation_prompt: options.addGenerationPrompt ?? false,
    };
    try {
      // Template.render() declares the library's own globals in the same scope as the variables
      // and refuses to redeclare one, so its strftime_now (see pythonStrftime) could not be
      // replaced. Globals live in a parent scope here; variables shadow them, as in jinja2.
      const scope = new Environment(makeGlobals());
      for (const [key, value] of Object.entries(variables)) scope.set(key, value);
      const result = new BoundedInterpreter(scope).run(this.template.parsed);
      return String(result.value);
    } catch (e) {
      const message = e instanceof TemplateRaised ? `raised: ${e.message}` : `failed: ${(e as Error).message}`;
      throw new SftError(`The chat template from ${this.origin} ${message}`, ErrorCode.ChatTemplate);
    }
  }
}

// Bounds on one render. A chat template loops over messages and tools (a few thousand steps for
// a long chat with tools); one that runs hundreds of thousands of steps or writes tens of
// millions of characters (a mutated or hostile template) would hang the process or run it out
// of memory, so it fails with CHAT_TEMPLATE instead.
const MAX_RENDER_STEPS = 200_000;
const MAX_RENDER_CHARS = 20_000_000;

// The part of @huggingface/jinja's Interpreter used here (its .d.ts files import each other
// without extensions, which NodeNext resolution leaves untyped).
interface JinjaInterpreter {
  run(program: unknown): { value: unknown };
  evaluate(statement: unknown, environment: unknown): { value: unknown };
}
const InterpreterBase = Interpreter as unknown as new (environment: Environment) => JinjaInterpreter;

/** @huggingface/jinja's interpreter, counting the steps it evaluates and the size of what it writes. */
class BoundedInterpreter extends InterpreterBase {
  private steps = 0;

  override evaluate(statement: unknown, environment: unknown): { value: unknown } {
    if (++this.steps > MAX_RENDER_STEPS) throw new Error(`it ran more than ${MAX_RENDER_STEPS} steps (a loop far longer than any chat needs)`);
    const value = super.evaluate(statement, environment);
    if (typeof value.value === 'string' && value.value.length > MAX_RENDER_CHARS) {
      throw new Error(`it wrote more than ${MAX_RENDER_CHARS} characters (far more than any prompt)`);
    }
    return value;
  }
}

/**
 * The globals transformers' chat environment adds to jinja2's (raise_exception, strftime_now) and
 * the jinja2 builtins @huggingface/jinja provides as globals rather than syntax. namespace(), tests
 * and filters come with the library's Environment and Interpreter.
 */
function makeGlobals(): Environment {
  const globals = new Environment();
  const values: Record<string, unknown> = {
    true: true, false: false, none: null, True: true, False: false, None: null,
    range: pythonRange,
    raise_exception: raiseException,
    strftime_now: (format: string) => pythonStrftime(new Date(), format),
  };
  for (const [key, value] of Object.entries(values)) globals.set(key, value);
  return globals;
}

/** Python's range(stop) / range(start, stop[, step]). */
function pythonRange(...args: number[]): number[] {
  const [start, stop, step] =
    args.length === 1 ? [0, args[0]!, 1] : [args[0]!, args[1]!, args[2] ?? 1];
  if (step === 0) throw new Error('range() arg 3 must not be zero');
  const length = Math.ceil((stop - start) / step);
  if (!(length <= MAX_RENDER_STEPS)) throw new Error(`range(${args.join(', ')}) has more than ${MAX_RENDER_STEPS} numbers`);
  const out: number[] = [];
  for (let i = start; step > 0 ? i < stop : i > stop; i += step) out.push(i);
  return out;
}

/** What a template's raise_exception("...") throws; told apart from engine errors in messages. */
class TemplateRaised extends Error {}

function raiseException(message: unknown): never {
  throw new TemplateRaised(String(message));
}

/** transformers 5 copies a message's reasoning under every name templates read it by. */
function aliasReasoningFields(messages: readonly ChatMessage[]): ChatMessage[] {
  return messages.map((message) => {
    const field = REASONING_FIELDS.find((k) => message[k] !== undefined && message[k] !== null);
    if (field === undefined) return message;
    const reasoning = message[field];
    return { thinking: reasoning, ...message, reasoning_content: reasoning };
  });
}

const WEEKDAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = [
  'January', 'February', 'March', 'April', 'May', 'June',
  'July', 'August', 'September', 'October', 'November', 'December',
];

/**
 * Python's datetime.strftime in the C locale (what transformers' strftime_now runs), local time.
 * @huggingface/jinja's own strftime_now names months in the process's ICU locale and knows only
 * %Y %m %d %b %B %H %M, so Llama 3.1+ templates could render a different date line than Python.
 * Supports the glibc "%-d" form (no padding); unknown directives stay as written, as in glibc.
 */
export function pythonStrftime(date: Date, format: string): string {
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  const hour12 = date.getHours() % 12 === 0 ? 12 : date.getHours() % 12;
  // Counted on UTC calendar days so that a daylight-saving change cannot shift it.
  const dayMs = Date.UTC(date.getFullYear(), date.getMonth(), date.getDate()) - Date.UTC(date.getFullYear(), 0, 1);
  const dayOfYear = dayMs / 86_400_000 + 1;
  const fields: Record<string, [number | string, number]> = {
    a: [WEEKDAYS[date.getDay()]!.slice(0, 3), 0],
    A: [WEEKDAYS[date.getDay()]!, 0],
    b: [MONTHS[date.getMonth()]!.slice(0, 3), 0],
    h: [MONTHS[date.getMonth()]!.slice(0, 3), 0],
    B: [MONTHS[date.getMonth()]!, 0],
    d: [date.getDate(), 2],
    e: [String(date.getDate()).padStart(2, ' '), 0],
    H: [date.getHours(), 2],
    I: [hour12, 2],
    j: [dayOfYear, 3],
    m: [date.getMonth() + 1, 2],
    M: [date.getMinutes(), 2],
    p: [date.getHours() < 12 ? 'AM' : 'PM', 0],
    S: [date.getSeconds(), 2],
    y: [date.getFullYear() % 100, 2],
    Y: [date.getFullYear(), 0],
    '%': ['%', 0],
  };
  return format.replace(/%(-?)([a-zA-Z%])/g, (whole, noPad: string, directive: string) => {
    const field = fields[directive];
    if (field === undefined) return whole;
    const [value, width] = field;
    if (typeof value === 'string') return value;
    return noPad === '-' || width === 0 ? String(value) : pad(value, width);
  });
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

async function listOptional(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw e;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
