// Every option of every public function documents its default: each optional property of each
// exported `*Options` type of the public API has an `@default` tag in its doc comment (what
// users see on hover and in the .d.ts), and where a zod schema applies a default, the tag
// states exactly that value. The types themselves are held equal to the schemas at compile
// time (config/same-shape.ts), so docs, types and behaviour cannot drift apart.
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { demoOptionsSchema } from '../../src/api/demo.js';
import { generateTextSchema } from '../../src/api/generate-text.js';
import { generationEvalOptionsSchema } from '../../src/api/evaluate-generation.js';
import { chatOptionsSchema } from '../../src/api/chat.js';
import { importOptionsSchema } from '../../src/api/import-gguf.js';
import { exportOptionsSchema } from '../../src/api/export-gguf.js';
import { mergeOptionsSchema } from '../../src/api/merge.js';
import { quantizeOptionsSchema } from '../../src/api/quantize.js';
import { evalOptionsSchema, trainerOptionsSchema, trainOptionsSchema } from '../../src/config/run-options.js';
import { generateOptionsSchema, loadModelOptionsSchema, logitsOptionsSchema, loraOptionsSchema } from '../../src/engine/model.js';

const INDEX = join(import.meta.dirname, '..', '..', 'src', 'api', 'index.ts');

/** The schema that parses each public options type (types without one are plain interfaces). */
const SCHEMAS: Record<string, Record<string, z.ZodType>> = {
  TrainOptions: trainOptionsSchema.shape,
  EvalOptions: evalOptionsSchema.shape,
  TrainerOptions: trainerOptionsSchema.shape,
  DemoOptions: demoOptionsSchema.shape,
  GenerateTextOptions: generateTextSchema.shape,
  GenerationEvalOptions: generationEvalOptionsSchema.shape,
  ChatOptions: chatOptionsSchema.shape,
  QuantizeOptions: quantizeOptionsSchema.shape,
  MergeOptions: mergeOptionsSchema.shape,
  ExportGgufOptions: exportOptionsSchema.shape,
  ImportGgufOptions: importOptionsSchema.shape,
  LoadModelOptions: loadModelOptionsSchema.shape,
  LogitsOptions: logitsOptionsSchema.shape,
  GenerateOptions: generateOptionsSchema.shape,
  LoraOptions: loraOptionsSchema.shape,
};

interface DocumentedOption {
  type: string;
  option: string;
  optional: boolean;
  defaultTag: string | undefined;
}

function publicOptions(): DocumentedOption[] {
  const program = ts.createProgram([INDEX], { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, strict: true, noEmit: true });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(INDEX);
  if (!source) throw new Error(`cannot read ${INDEX}`);
  const moduleSymbol = checker.getSymbolAtLocation(source);
  if (!moduleSymbol) throw new Error('src/api/index.ts is not a module');
  const out: DocumentedOption[] = [];
  for (const exported of checker.getExportsOfModule(moduleSymbol)) {
    if (!exported.name.endsWith('Options')) continue;
    const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
    const type = checker.getDeclaredTypeOfSymbol(symbol);
    for (const prop of checker.getPropertiesOfType(type)) {
      const tag = prop.getJsDocTags(checker).find((t) => t.name === 'default');
      out.push({
        type: exported.name,
        option: prop.name,
        optional: (prop.flags & ts.SymbolFlags.Optional) !== 0,
        defaultTag: tag ? ts.displayPartsToString(tag.text).trim() : undefined,
      });
    }
  }
  return out;
}

/** `@default 2e-5` / `'imdb'` / `true` -> the value; anything else (prose) -> undefined. */
function literal(tag: string): { value: unknown } | undefined {
  if (/^-?\d+(\.\d+)?(e-?\d+)?$/.test(tag)) return { value: Number(tag) };
  if (tag === 'true' || tag === 'false') return { value: tag === 'true' };
  const quoted = /^'([^']*)'$/.exec(tag);
  return quoted ? { value: quoted[1] } : undefined;
}

describe('public option docs', () => {
  const options = publicOptions();

  it('finds the public option types', () => {
    const types = new Set(options.map((o) => o.type));
    for (const name of Object.keys(SCHEMAS)) expect(types.has(name), name).toBe(true);
    expect(types.has('ResolveModelOptions')).toBe(true);
    expect(types.has('TrainLoopOptions')).toBe(true);
  });

  it('every optional option has an @default tag; required ones have none', () => {
    const missing = options.filter((o) => o.optional && o.defaultTag === undefined).map((o) => `${o.type}.${o.option}`);
    expect(missing, 'optional options without @default').toEqual([]);
    const extra = options.filter((o) => !o.optional && o.defaultTag !== undefined).map((o) => `${o.type}.${o.option}`);
    expect(extra, 'required options with an @default').toEqual([]);
  });

  it("each @default states the schema's default value, and only options with a schema default state a literal", () => {
    for (const o of options) {
      const shape = SCHEMAS[o.type];
      if (!shape || o.defaultTag === undefined) continue;
      const field = shape[o.option];
      if (!field) continue; // callbacks and signals are not parsed by the schema
      const parsed = field.safeParse(undefined);
      const schemaDefault = parsed.success ? parsed.data : undefined;
      const stated = literal(o.defaultTag);
      if (schemaDefault === undefined) {
        expect(stated, `${o.type}.${o.option}: @default ${o.defaultTag} but the schema has no default`).toBeUndefined();
      } else {
        expect(stated, `${o.type}.${o.option}: @default '${o.defaultTag}' is not a literal`).toBeDefined();
        expect(stated?.value, `${o.type}.${o.option}`).toEqual(schemaDefault);
      }
    }
  });
});
