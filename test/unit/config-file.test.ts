// --config FILE: YAML / JSON keys in kebab- or camelCase fill the options, typed flags win,
// unknown keys name the closest flag, and a run.json gives its recorded config.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import { addConfigFlag, editDistance, readConfigFile } from '../../src/cli/config-file.js';
import { addDataFlags, addModelFlags, toApiOptions, type RawFlags } from '../../src/cli/run-flags.js';

const work = mkdtempSync(join(tmpdir(), 'nq-config-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(work, name);
  writeFileSync(path, text);
  return path;
}

/** A command shaped like `sft train` (model, data, a few train flags) that hands back its options. */
async function parse(args: string[]): Promise<Record<string, unknown>> {
  let seen: RawFlags = {};
  const cmd = new Command('train').exitOverride();
  addModelFlags(cmd);
  addDataFlags(cmd);
  addConfigFlag(cmd, ['freezeLayers']);
  cmd
    .requiredOption('--out <dir>', 'run folder')
    .option('--lora-r <n>', 'rank', '16')
    .option('--lora-targets <list>', 'modules')
    .option('--lr <x>', 'lr', '2e-5')
    .option('--no-gradient-checkpointing', 'keep activations')
    .action((flags: RawFlags) => {
      seen = flags;
    });
  await cmd.parseAsync(args, { from: 'user' });
  return toApiOptions(seen);
}

describe('--config', () => {
  it('a YAML file in kebab-case supplies required and optional flags; typed flags override it wherever they stand', async () => {
    const yaml = file('a.yaml', 'model: demo\ndata: rows.csv\nout: runs/a\nlora-r: 8\nlr: 1e-3\nlora-targets: [q_proj, v_proj]\ngradient-checkpointing: false\n');
    const o = await parse(['--lr', '5e-4', '--config', yaml, '--lora-r', '4']);
    expect(o).toMatchObject({ model: 'demo', data: 'rows.csv', out: 'runs/a', loraR: 4, lr: 5e-4, loraTargets: ['q_proj', 'v_proj'], gradientCheckpointing: false });
    expect(o).not.toHaveProperty('config');
  });

  it('a JSON file in camelCase, `no-` spellings of negated flags, and API options without a flag', async () => {
    const json = file('b.json', JSON.stringify({ model: 'm', data: 'd', out: 'o', loraR: '32', noGradientCheckpointing: true, freezeLayers: 2, labelColumn: 1, textColumn: 2.5 }));
    const o = await parse(['--config', json]);
    expect(o).toMatchObject({ loraR: 32, gradientCheckpointing: false, freezeLayers: 2, lr: 2e-5, labelColumn: '1', textColumn: '2.5' });
  });

  it('an unknown key is an error naming it and the closest flag', async () => {
    const yaml = file('c.yaml', 'model: m\ndata: d\nout: o\nlora-rank: 8\n');
    await expect(parse(['--config', yaml])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/unknown key 'lora-rank'.*did you mean --lora-r\?/) });
    const typo = file('d.yaml', 'model: m\ndata: d\nout: o\nlearning_rat: 1\n');
    await expect(parse(['--config', typo])).rejects.toThrow(/unknown key 'learning_rat'/);
  });

  it('broken, missing and non-mapping files name the file', async () => {
    await expect(parse(['--config', file('e.yaml', 'model: [unclosed\n')])).rejects.toThrow(/e\.yaml: not valid YAML/);
    await expect(parse(['--config', file('f.json', '{"model": ')])).rejects.toThrow(/f\.json: not valid JSON/);
    await expect(parse(['--config', file('g.yaml', '- a\n- b\n')])).rejects.toThrow(/expected a mapping of flag names to values, got a list/);
    await expect(parse(['--config', join(work, 'nope.yaml')])).rejects.toMatchObject({ code: 'FILE_NOT_FOUND' });
  });

  it('a run.json gives its config, less what the run derived', () => {
    const run = file('run.json', JSON.stringify({ kind: 'sft-train', config: { model: 'demo', loraR: 4, totalSteps: 9, microBatch: 2, quantizedLinears: 0, demo: true, demoRecipe: 'seed recipe except ...' }, model: {} }));
    expect(readConfigFile(run)).toEqual({ model: 'demo', loraR: 4 });
  });

  it('edit distance', () => {
    expect(editDistance('--lora-rank', '--lora-r')).toBe(3);
    expect(editDistance('abc', 'abc')).toBe(0);
    expect(editDistance('', 'ab')).toBe(2);
  });
});
