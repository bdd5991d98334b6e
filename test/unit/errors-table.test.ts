// docs/errors.md lists every error code sft can raise, and nothing else. The codes are found by
// scanning the sources, so a code added anywhere without its row fails here:
// - TypeScript (src/): every value of an `*ErrorCode` object, every string constant or literal
//   given as the code of `new SftError(...)` / `super(...)` (read with the TypeScript parser);
// - C++ (native/core, native/addon): the code of every `Error("CODE", ...)`, `fail("CODE", ...)`
//   and `{"CODE", message}` (the addon's mapping of libtorch and C++ exceptions).
// Each row's exit status and hint must also be what the CLI prints (src/cli/json-error.ts).
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { ERROR_HINTS } from '../../src/cli/json-error.js';

const ROOT = join(import.meta.dirname, '..', '..');
const CODE = /^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$|^[A-Z]{4,}$/;

function filesUnder(dir: string, ext: RegExp): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && ext.test(e.name))
    .map((e) => join(e.parentPath, e.name));
}

/** code -> the files that raise it. */
type Found = Map<string, Set<string>>;
const add = (found: Found, code: string, file: string) => found.set(code, (found.get(code) ?? new Set()).add(relative(ROOT, file)));

function scanTypeScript(found: Found): void {
  const files = filesUnder(join(ROOT, 'src'), /\.ts$/);
  const sources = files.map((f) => ts.createSourceFile(f, readFileSync(f, 'utf8'), ts.ScriptTarget.Latest, true));
  // Pass 1: code objects (`XErrorCode = {...}`) and string constants, by name.
  const objects = new Map<string, Map<string, string>>();
  const constants = new Map<string, string>();
  for (const source of sources) {
    const visit = (node: ts.Node): void => {
      if (ts.isVariableDeclaration(node) && ts.isIdentifier(node.name) && node.initializer) {
        let init = node.initializer;
        if (ts.isAsExpression(init)) init = init.expression;
        if (ts.isObjectLiteralExpression(init) && /ErrorCode$/.test(node.name.text)) {
          const members = new Map<string, string>();
          for (const p of init.properties) {
            if (ts.isPropertyAssignment(p) && ts.isStringLiteral(p.initializer)) {
              members.set(p.name.getText(source), p.initializer.text);
              add(found, p.initializer.text, source.fileName);
            }
          }
          objects.set(node.name.text, members);
        } else if (ts.isStringLiteral(init) && CODE.test(init.text)) {
          constants.set(node.name.text, init.text);
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  // Pass 2: the code argument of each SftError construction (and super() in its subclasses).
  const codesOf = (expr: ts.Expression): string[] => {
    if (ts.isStringLiteral(expr) || ts.isNoSubstitutionTemplateLiteral(expr)) return CODE.test(expr.text) ? [expr.text] : [];
    if (ts.isIdentifier(expr)) return constants.has(expr.text) ? [constants.get(expr.text) as string] : [];
    if (ts.isPropertyAccessExpression(expr) && ts.isIdentifier(expr.expression)) {
      const value = objects.get(expr.expression.text)?.get(expr.name.text);
      return value ? [value] : [];
    }
    if (ts.isBinaryExpression(expr)) return [...codesOf(expr.left), ...codesOf(expr.right)];
    if (ts.isConditionalExpression(expr)) return [...codesOf(expr.whenTrue), ...codesOf(expr.whenFalse)];
    if (ts.isParenthesizedExpression(expr)) return codesOf(expr.expression);
    return [];
  };
  for (const source of sources) {
    const visit = (node: ts.Node): void => {
      const isSftError = ts.isNewExpression(node) && ts.isIdentifier(node.expression) && node.expression.text === 'SftError';
      const isSuper = ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.SuperKeyword;
      const args = isSftError || isSuper ? (node as ts.NewExpression | ts.CallExpression).arguments : undefined;
      if (args && args.length >= 2) for (const code of codesOf(args[1] as ts.Expression)) add(found, code, source.fileName);
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
}

function scanNative(found: Found): void {
  const raise = /\b(?:Error|fail)\s*\(\s*"([A-Z][A-Z0-9_]+)"|\{\s*"([A-Z][A-Z0-9_]+)"\s*,/g;
  for (const dir of ['core', 'addon']) {
    for (const file of filesUnder(join(ROOT, 'native', dir), /\.(?:h|cpp|cu|cuh)$/)) {
      for (const m of readFileSync(file, 'utf8').matchAll(raise)) add(found, (m[1] ?? m[2]) as string, file);
    }
  }
}

interface Row {
  code: string;
  exit: string;
  hint: string;
}

function documentedRows(): Row[] {
  const text = readFileSync(join(ROOT, 'docs', 'errors.md'), 'utf8');
  const rows: Row[] = [];
  for (const line of text.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    const code = /^`([A-Z][A-Z0-9_]*)`$/.exec(cells[1] ?? '')?.[1];
    if (!code) continue;
    rows.push({ code, exit: cells[2] as string, hint: (cells[5] ?? '').replace(/\\\|/g, '|') });
  }
  return rows;
}

const found: Found = new Map();
scanTypeScript(found);
scanNative(found);
const rows = documentedRows();

describe('docs/errors.md and the codes in the sources', () => {
  it('the scan finds the codes of each kind of source (it is not reading nothing)', () => {
    for (const code of ['INVALID_ARGUMENT', 'DISK_FULL', 'GGUF_INVALID', 'HUB_AUTH', 'DIST_RANK_FAILED', 'ST_HEADER_LENGTH', 'TORCH_ERROR', 'JSON_INVALID']) {
      expect(found.has(code), code).toBe(true);
    }
    expect(found.size).toBeGreaterThan(40);
  });

  it('every code the sources can raise has a row', () => {
    const documented = new Set(rows.map((r) => r.code));
    const missing = [...found].filter(([code]) => !documented.has(code)).map(([code, files]) => `${code} (raised in ${[...files].join(', ')})`);
    expect(missing, 'add a row to docs/errors.md and a hint to ERROR_HINTS in src/cli/json-error.ts for each').toEqual([]);
  });

  it('every row is a code the sources raise, listed once', () => {
    expect(rows.filter((r) => !found.has(r.code)).map((r) => r.code), 'rows for codes nothing raises').toEqual([]);
    const codes = rows.map((r) => r.code);
    expect(codes.filter((c, i) => codes.indexOf(c) !== i), 'rows listed twice').toEqual([]);
  });

  it("each row's exit status and hint are what `sft --json` prints", () => {
    for (const row of rows) {
      expect(row.exit, row.code).toBe(row.code === 'ABORTED' ? '1, or 128 + signal' : '1');
      expect(row.hint, `hint of ${row.code} in docs/errors.md vs ERROR_HINTS`).toBe(ERROR_HINTS[row.code]);
    }
    expect(Object.keys(ERROR_HINTS).filter((c) => !found.has(c)), 'hints for codes nothing raises').toEqual([]);
  });
});
