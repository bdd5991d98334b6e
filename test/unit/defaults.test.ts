// One source of defaults: the CLI's flag defaults, the API's zod schemas and the README's
// "Defaults" table must name the same values (they all come from src/config/defaults.ts; this
// test catches a layer that writes its own number again).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command, Option } from 'commander';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { demoOptionsSchema } from '../../src/api/demo.js';
import { generateTextSchema } from '../../src/api/generate-text.js';
import { importOptionsSchema } from '../../src/api/import-gguf.js';
import { quantizeOptionsSchema } from '../../src/api/quantize.js';
import { buildProgram } from '../../src/cli/program.js';
import { toApiOptions } from '../../src/cli/run-flags.js';
import { evalOptionsSchema, trainerOptionsSchema, trainOptionsSchema } from '../../src/config/run-options.js';

type Shape = Record<string, z.ZodType>;
/** README "used by" name -> the schema whose defaults it documents, and the CLI command (if any). */
const USERS: Record<string, { shape: Shape; command?: string }> = {
  train: { shape: trainOptionsSchema.shape, command: 'train' },
  eval: { shape: evalOptionsSchema.shape, command: 'eval' },
  createTrainer: { shape: trainerOptionsSchema.shape },
  generate: { shape: generateTextSchema.shape, command: 'generate' },
  demo: { shape: demoOptionsSchema.shape, command: 'demo' },
  quantize: { shape: quantizeOptionsSchema.shape, command: 'quantize' },
  import: { shape: importOptionsSchema.shape, command: 'import' },
};

/** Each option's default as its schema applies it (options without one are left out). */
function schemaDefaults(shape: Shape): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const [key, field] of Object.entries(shape)) {
    const r = field.safeParse(undefined);
    if (r.success && r.data !== undefined) out.set(key, r.data);
  }
  return out;
}

interface ReadmeRow {
  option: string;
  flag: string | undefined;
  value: unknown;
  users: string[];
}

/** The rows of the README's table under "## Defaults". */
function readmeRows(): ReadmeRow[] {
  const text = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');
  const section = text.split(/^## /m).find((s) => s.startsWith('Defaults'));
  if (!section) throw new Error('README.md has no "## Defaults" section');
  const rows = section.split('\n').filter((l) => /^\| `/.test(l));
  return rows.map((line) => {
    const cells = line.split('|').slice(1, -1).map((c) => c.trim().replace(/^`|`$/g, ''));
    const [option = '', flag = '', value = '', users = ''] = cells;
    return { option, flag: flag === '-' ? undefined : flag, value: parseCell(value), users: users.split(',').map((u) => u.trim()) };
  });
}

function parseCell(cell: string): unknown {
  if (cell === 'true' || cell === 'false') return cell === 'true';
  const n = Number(cell);
  return cell !== '' && Number.isFinite(n) ? n : cell;
}

function command(name: string): Command {
  const cmd = buildProgram().commands.find((c) => c.name() === name);
  if (!cmd) throw new Error(`no sft ${name}`);
  return cmd;
}

/** What the CLI hands the API for an option nobody set: its flag default through toApiOptions. */
function cliDefault(opt: Option, schemaValue: unknown): unknown {
  const key = opt.attributeName();
  const converted = toApiOptions({ [key]: opt.defaultValue as string | boolean | undefined })[key];
  // Flags the API does not treat as numbers (generate's token counts) are converted by the command.
  return typeof schemaValue === 'number' && typeof converted === 'string' ? Number(converted) : converted;
}

describe('defaults: one source', () => {
  const rows = readmeRows();

  it("the README's table lists exactly the options that have a default, with the schema's value", () => {
    const documented = new Set<string>();
    for (const row of rows) {
      for (const user of row.users) {
        const entry = USERS[user];
        expect(entry, `README row ${row.option}: unknown user '${user}'`).toBeDefined();
        const defaults = schemaDefaults((entry as { shape: Shape }).shape);
        expect(defaults.has(row.option), `README: ${user} has no default for ${row.option}`).toBe(true);
        expect(defaults.get(row.option), `README: ${user}'s ${row.option}`).toEqual(row.value);
        documented.add(`${user}.${row.option}`);
      }
    }
    const all = Object.entries(USERS).flatMap(([user, { shape }]) => [...schemaDefaults(shape).keys()].map((k) => `${user}.${k}`));
    expect(all.filter((k) => !documented.has(k)), 'defaults missing from the README table').toEqual([]);
  });

  it("every CLI flag default equals the API's, and the README names the flag the CLI has", () => {
    for (const [user, { shape, command: name }] of Object.entries(USERS)) {
      if (!name) continue;
      const defaults = schemaDefaults(shape);
      const options = command(name).options;
      for (const opt of options) {
        const key = opt.attributeName();
        if (opt.defaultValue === undefined || !defaults.has(key)) continue;
        expect(cliDefault(opt, defaults.get(key)), `sft ${name} ${opt.long}`).toEqual(defaults.get(key));
      }
      for (const row of rows.filter((r) => r.users.includes(user) && r.flag !== undefined)) {
        const opt = options.find((o) => o.attributeName() === row.option);
        expect(opt, `sft ${name} has no flag for ${row.option}`).toBeDefined();
        expect(row.flag, `README flag of ${row.option}`).toBe((opt as Option).long);
        // A flag without a commander default hands nothing over: the schema's default applies.
        if ((opt as Option).defaultValue === undefined) expect((opt as Option).negate || typeof row.value === 'boolean', `sft ${name} ${row.flag} has no default`).toBe(true);
      }
    }
  });

  it('createTrainer defaults to the same optimizer settings as train()', () => {
    const trainer = schemaDefaults(trainerOptionsSchema.shape);
    const train = schemaDefaults(trainOptionsSchema.shape);
    expect(trainer.size).toBeGreaterThan(5);
    for (const [key, value] of trainer) expect(train.get(key), key).toEqual(value);
  });
});
