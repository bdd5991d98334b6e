// `--config FILE` for `sft train` and `sft eval`: a YAML or JSON file whose keys are the
// command's flags (kebab-case as typed, or camelCase as the API spells them). Flags typed on the
// command line win over the file; the file wins over the defaults. A finished run's run.json is
// a config too: its `config` record is read, less the values the run derived (total steps, ...).
// Not for: validating values. The API's zod schema checks them afterwards, naming the flag.
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { ErrorCode, SftError } from '../errors.js';

/** Keys of run.json's config that the run computed (or that mark it, as the demo's) rather than was given. */
const RUN_RECORD_DERIVED = new Set(['totalSteps', 'microBatch', 'quantizedLinears', 'demo', 'demoRecipe']);

/** The source commander records for a value taken from the file (beside 'cli', 'default', 'env'). */
const FROM_CONFIG = 'config';

const camelCase = (key: string): string => key.replace(/[-_]+([a-z0-9])/g, (_, c: string) => c.toUpperCase());
const kebabCase = (key: string): string => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/** Edit distance, to name the flag a misspelled key was probably meant to be. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min((previous[j] as number) + 1, (row[j - 1] as number) + 1, (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = row;
  }
  return previous[b.length] as number;
}

/** The file's settings as one flat object; a run.json gives its recorded config. */
export function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new SftError(`--config ${file}: cannot read it (${code ?? (err as Error).message})`, code === 'ENOENT' ? ErrorCode.FileNotFound : ErrorCode.InvalidArgument);
  }
  let value: unknown;
  try {
    // JSON is YAML 1.2, but JSON's own parser gives the clearer message for a broken .json file.
    value = extname(file).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new SftError(`--config ${file}: not valid ${extname(file).toLowerCase() === '.json' ? 'JSON' : 'YAML'}: ${(err as Error).message.split('\n')[0]}`, ErrorCode.InvalidArgument);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new SftError(`--config ${file}: expected a mapping of flag names to values, got ${Array.isArray(value) ? 'a list' : JSON.stringify(value)}`, ErrorCode.InvalidArgument);
  }
  const record = value as Record<string, unknown>;
  if (record.kind === 'sft-train' && record.config !== null && typeof record.config === 'object') {
    return Object.fromEntries(Object.entries(record.config as Record<string, unknown>).filter(([k]) => !RUN_RECORD_DERIVED.has(k)));
  }
  return record;
}

/**
 * The file's keys as option names of `cmd` (camelCase; `no-x: true` becomes `x: false`).
 * `apiKeys`: options of the command's API call that have no flag (still valid in a file).
 * An unknown key is INVALID_ARGUMENT naming it and the closest flag.
 */
export function configValues(cmd: Command, settings: Record<string, unknown>, file: string, apiKeys: readonly string[] = []): Record<string, unknown> {
  const flags = cmd.options.filter((o) => o.long !== '--config');
  const known = new Set([...flags.map((o) => o.attributeName()), ...apiKeys]);
  const negated = new Set(flags.filter((o) => o.negate).map((o) => o.attributeName()));
  const valueFlags = new Set(flags.filter((o) => o.required || o.optional).map((o) => o.attributeName()));
  const values: Record<string, unknown> = {};
  for (const [raw, value] of Object.entries(settings)) {
    let key = camelCase(raw.replace(/^--/, ''));
    let v = value;
    const positive = key.startsWith('no') ? key.charAt(2).toLowerCase() + key.slice(3) : '';
    if (!known.has(key) && negated.has(positive) && typeof value === 'boolean') {
      key = positive;
      v = !value;
    }
    if (!known.has(key)) {
      const names = [...new Set([...flags.map((o) => o.long as string), ...apiKeys.map(kebabCase)])];
      const typed = kebabCase(key);
      const closest = names.reduce((best, n) => (editDistance(typed, n) < editDistance(typed, best) ? n : best), names[0] as string);
      throw new SftError(`--config ${file}: unknown key '${raw}' for sft ${cmd.name()}; did you mean ${closest}? (see sft ${cmd.name()} --help)`, ErrorCode.InvalidArgument);
    }
    if (v === null) continue; // YAML `key:` with no value: as if absent
    // A flag's value as if typed (`label-column: 1` is the column named "1"; numeric flags are
    // parsed from it as from the command line); options without a flag keep the file's type.
    const typed = valueFlags.has(key) && typeof v !== 'boolean' && !Array.isArray(v);
    values[key] = typed || (typeof v !== 'number' && typeof v !== 'boolean' && !Array.isArray(v)) ? String(v) : v;
  }
  return values;
}

/** Adds `--config <file>` to `cmd`: its values fill every option not typed on the command line. */
export function addConfigFlag(cmd: Command, apiKeys: readonly string[] = []): Command {
  cmd.option('--config <file>', 'YAML or JSON file of flag values (kebab- or camelCase keys; a run.json reproduces its run); flags typed here override it');
  // Runs while commander parses the line, before its check of required options (so a file may
  // supply --model / --data / --out). Options typed before --config are 'cli' and kept; options
  // typed after it are parsed later and overwrite the file's.
  cmd.on('option:config', (file: string) => {
    for (const [key, value] of Object.entries(configValues(cmd, readConfigFile(file), file, apiKeys))) {
      if (cmd.getOptionValueSource(key) !== 'cli') cmd.setOptionValueWithSource(key, value, FROM_CONFIG);
    }
  });
  return cmd;
}
