// The ArchConfig boundary: every fixture config of every family, normalized by src/config,
// crosses into the engine (native/addon/arch_spec.cpp) and comes back field for field; a field
// the engine does not read is refused, naming its path, instead of being dropped silently.
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FAMILIES, type ArchConfig } from '../../src/config/arch.js';
import { archConfigFromHf } from '../../src/config/hf-config.js';
import { native } from '../../src/native.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures');

function fixtureConfigs(): [string, ArchConfig][] {
  const out: [string, ArchConfig][] = [];
  for (const sub of ['hub', 'v5']) {
    const dir = join(FIXTURES, 'configs', sub);
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.json')).sort()) {
      out.push([`configs/${sub}/${f}`, archConfigFromHf(JSON.parse(readFileSync(join(dir, f), 'utf8')), f)]);
    }
  }
  const models = join(FIXTURES, 'models');
  for (const m of readdirSync(models).sort()) {
    const file = join(models, m, 'config.json');
    if (existsSync(file)) out.push([`models/${m}`, archConfigFromHf(JSON.parse(readFileSync(file, 'utf8')), file)]);
  }
  return out;
}

const configs = fixtureConfigs();

describe('ArchConfig through the native boundary', () => {
  it('the fixtures cover every family and every kind of value a field takes', () => {
    expect(new Set(configs.map(([, a]) => a.family))).toEqual(new Set(FAMILIES));
    const all = configs.map(([, a]) => a);
    const layers = all.flatMap((a) => a.layers);
    // Non-default values reach the engine too, not just the common case.
    expect(new Set(layers.map((l) => l.rope.type))).toEqual(new Set(['default', 'linear', 'llama3', 'longrope']));
    expect(layers.some((l) => l.slidingWindow !== null)).toBe(true);
    expect(all.some((a) => a.attnLogitSoftcap !== null) && all.some((a) => a.finalLogitSoftcap !== null)).toBe(true);
    expect(new Set(all.map((a) => a.hiddenAct)).size).toBeGreaterThan(1);
    for (const flag of ['qkvBias', 'qkNorm', 'fusedQkv', 'fusedGateUp', 'sandwichNorms', 'tieWordEmbeddings'] as const) {
      expect(new Set(all.map((a) => a[flag])), flag).toEqual(new Set([true, false]));
    }
  });

  it.each(configs)('%s: every field comes back as sent', async (_name, arch) => {
    const back = await native().parseArch(arch);
    expect(back).toStrictEqual(arch);
  });

  it('refuses an unknown field at the top, in a layer and in a rope, naming its path', async () => {
    const [, base] = configs.find(([, a]) => a.family === 'gemma2')!;
    const withTop = { ...base, newField: 1 } as unknown as ArchConfig;
    await expect(native().parseArch(withTop)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/^arch\.newField: unknown field/) });
    const layers = base.layers.map((l, i) => (i === 1 ? { ...l, window2: 4 } : l));
    await expect(native().parseArch({ ...base, layers } as ArchConfig)).rejects.toThrow(/^arch\.layers\[1\]\.window2: unknown field/);
    const ropes = base.layers.map((l, i) => (i === 0 ? { ...l, rope: { ...l.rope, beta: 2 } } : l));
    await expect(native().parseArch({ ...base, layers: ropes } as ArchConfig)).rejects.toThrow(/^arch\.layers\[0\]\.rope\.beta: unknown field/);
  });

  it('refuses a missing or mistyped field, naming it, through the promise', async () => {
    const [, base] = configs[0]!;
    const { headDim: _dropped, ...missing } = base;
    let pending: Promise<unknown> | undefined;
    expect(() => {
      pending = native().parseArch(missing as ArchConfig);
    }).not.toThrow();
    await expect(pending).rejects.toThrow(/^arch\.headDim: expected a value, but it is missing/);
    await expect(native().parseArch({ ...base, qkNorm: 1 } as unknown as ArchConfig)).rejects.toThrow(/^arch\.qkNorm: expected a boolean/);
  });
});
