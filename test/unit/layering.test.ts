// Imports go one way: src/cli -> src/api -> the rooms below it (engine, train, eval, data, config,
// hub, gguf, tokenize), never back up. The lower rooms are what src/api composes; an import from
// one of them into src/api or src/cli is a cycle in the making.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = join(import.meta.dirname, '..', '..', 'src');
const LOWER = ['engine', 'train', 'eval', 'data', 'config', 'hub', 'gguf', 'tokenize'];

function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/^\s*(?:import|export)\b[^;]*?from\s+'(\.[^']+)'/gms)].map((m) => m[1] as string);
}

describe('layering', () => {
  it('src/engine, train, eval, data, config, hub, gguf and tokenize never import src/api or src/cli', () => {
    const upward: string[] = [];
    for (const room of LOWER) {
      for (const name of readdirSync(join(SRC, room), { recursive: true }) as string[]) {
        if (!name.endsWith('.ts')) continue;
        const file = join(SRC, room, name);
        for (const spec of imports(file)) {
          const target = relative(SRC, resolve(file, '..', spec)).replace(/\.js$/, '.ts');
          const edge = `${relative(SRC, file)} -> ${target}`;
          if (/^(api|cli)\//.test(target)) upward.push(edge);
        }
      }
    }
    expect(upward).toEqual([]);
  });

  it('finds imports (the scan itself works)', () => {
    expect(imports(join(SRC, 'api', 'train.ts'))).toContain('../train/loop.js');
  });
});
