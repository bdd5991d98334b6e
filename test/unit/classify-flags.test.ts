// The classification flags of sft train / sft eval reach the API options as numbers, and the
// fold options are refused by name when they do not fit together.
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/program.js';
import { toApiOptions } from '../../src/cli/run-flags.js';
import { flagName, parseOptions } from '../../src/config/parse-options.js';
import { evalOptionsSchema, trainOptionsSchema } from '../../src/config/run-options.js';

function flags(command: string, args: string[]): Record<string, unknown> {
  const cmd = buildProgram().commands.find((c) => c.name() === command);
  if (!cmd) throw new Error(`no sft ${command}`);
  cmd.parseOptions(args);
  return toApiOptions(cmd.opts());
}
const BASE = ['--model', 'demo', '--data', 'demo'];

describe('classification flags', () => {
  it('sft train: task, labels, frozen layers, the optional losses and the folds', () => {
    const o = parseOptions(
      trainOptionsSchema,
      flags('train', [...BASE, '--out', 'x', '--task', 'classify', '--num-labels', '3', '--freeze-layers', '16', '--rdrop-alpha', '1.5', '--supcon-weight', '0.1', '--supcon-temperature', '0.05', '--folds', '5', '--fold', '0']),
      'sft train options',
      flagName,
    );
    expect(o).toMatchObject({ task: 'classify', numLabels: 3, freezeLayers: 16, rdropAlpha: 1.5, supconWeight: 0.1, supconTemperature: 0.05, folds: 5, fold: 0 });
  });

  it('sft eval: task, labels and folds', () => {
    const o = parseOptions(evalOptionsSchema, flags('eval', [...BASE, '--task', 'classify', '--num-labels', '2', '--folds', '4', '--fold', '3']), 'sft eval options', flagName);
    expect(o).toMatchObject({ task: 'classify', numLabels: 2, folds: 4, fold: 3 });
  });

  it('refuses fold options that do not fit, naming the flag', () => {
    const train = (extra: string[]) => () => parseOptions(trainOptionsSchema, flags('train', [...BASE, '--out', 'x', ...extra]), 'sft train options', flagName);
    expect(train(['--fold', '1'])).toThrow(/--fold.*needs --folds N/);
    expect(train(['--folds', '3', '--fold', '3'])).toThrow(/--fold.*fold < N/);
    expect(train(['--folds', '1'])).toThrow(/--folds.*\[2, 1000\]/);
    expect(train(['--task', 'regress'])).toThrow(/--task/);
    expect(train(['--supcon-weight', '2'])).toThrow(/--supcon-weight.*\[0, 1\]/);
  });
});
