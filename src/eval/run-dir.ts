// Reads an `sft` run directory for `sft report`: run.json, log.jsonl and eval.json, each checked
// with zod against report-types.ts, each optional on its own. A folder with none of run.json
// and eval.json is not a run directory; anything else is reported with what it has.
import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { ErrorCode, SftError } from '../errors.js';
import type { EvalMetrics, EvalReport, RunRecord, SkippedRow } from './report-types.js';
import { readPredictions, type Predictions } from './report-samples.js';

export const RUN_FILES = { run: 'run.json', log: 'log.jsonl', eval: 'eval.json' } as const;

/** What a run directory holds, for messages that tell a user what `sft report` expects. */
export const RUN_DIR_LAYOUT =
  'a run directory holds run.json and log.jsonl (written by sft train), the adapter (adapter_config.json, adapter_model.safetensors), ' +
  'and eval.json, eval.md, predictions.jsonl (written by sft eval --out RUN_DIR)';

const skippedRow: z.ZodType<SkippedRow> = z.looseObject({ file: z.string(), row: z.number(), reason: z.string() });

const evalMetrics: z.ZodType<EvalMetrics> = z
  .looseObject({
    n: z.number(),
    acc: z.number(),
    resp_acc: z.number(),
    correct: z.number(),
    valid: z.number(),
    confusion: z.looseObject({ labels: z.array(z.string()), counts: z.array(z.array(z.number())) }),
    seconds: z.number(),
  })
  .refine((m) => m.confusion.counts.length === m.confusion.labels.length && m.confusion.counts.every((r) => r.length === m.confusion.labels.length + 1), {
    message: 'confusion.counts needs one row per label, each with one count per label plus the invalid column',
    path: ['confusion', 'counts'],
  });

const evalReport: z.ZodType<EvalReport> = z.looseObject({
  kind: z.literal('sft-eval'),
  model: z.string(),
  modelDir: z.string(),
  data: z.string(),
  settings: z.record(z.string(), z.unknown()),
  base: evalMetrics.optional(),
  adapter: z.intersection(evalMetrics, z.looseObject({ path: z.string() })).optional(),
  skipped_rows: z.number(),
  skipped: z.array(skippedRow),
  created: z.string(),
});

const runRecord: z.ZodType<RunRecord> = z.looseObject({
  kind: z.literal('sft-train'),
  config: z.record(z.string(), z.unknown()),
  model: z.looseObject({ input: z.string(), dir: z.string(), family: z.string() }),
  data: z.looseObject({
    source: z.string(),
    train: z.number(),
    val: z.number(),
    test: z.number(),
    skipped_rows: z.number(),
    skipped: z.array(skippedRow),
  }),
  versions: z.record(z.string(), z.string()),
  started: z.string(),
  finished: z.string().optional(),
  result: z
    .looseObject({ steps: z.number(), finalLoss: z.number().nullable(), trainSeconds: z.number(), tokensPerSecond: z.number(), val: evalMetrics.optional() })
    .optional(),
});

// JSON.stringify writes NaN and Infinity as null; a diverged run's log is exactly the one worth
// reading, so a missing or null value is kept as a gap rather than rejected.
const gap = z
  .number()
  .nullable()
  .optional()
  .transform((v) => v ?? null);
const logLine = z.looseObject({ step: z.number(), epoch: z.number().optional(), loss: gap, lr: gap, gradNorm: gap });
const evalLine = z.looseObject({
  step: z.number(),
  eval_loss: gap,
  eval_acc: gap,
  eval_resp_acc: gap,
  best: z
    .looseObject({ metric: z.string(), value: z.number(), step: z.number() })
    .nullable()
    .optional()
    .catch(null)
    .transform((v) => v ?? null),
});

/** The part of a TrainLogLine the report draws; null where the log has no finite value. */
export interface LoggedStep {
  step: number;
  epoch?: number;
  loss: number | null;
  lr: number | null;
  gradNorm: number | null;
}

/** An evaluation during training (a log line with eval_loss, sft train --eval-every). */
export interface LoggedEvaluation {
  step: number;
  eval_loss: number | null;
  eval_acc: number | null;
  eval_resp_acc: number | null;
  best: { metric: string; value: number; step: number } | null;
}

export interface TrainLog {
  /** Sorted by step; when a resumed run logged a step again, the later line is kept. */
  steps: LoggedStep[];
  /** The evaluations during training, sorted by step (the later line of a step logged twice). */
  evaluations: LoggedEvaluation[];
  /** Lines that are not JSON or not a log line (e.g. the last line of a killed run), 1-based. */
  unreadable: { line: number; reason: string }[];
  /** How many lines repeated an earlier step. */
  repeated: number;
}

export interface RunDirContents {
  /** Absolute path of the run directory. */
  dir: string;
  run?: RunRecord;
  log?: TrainLog;
  eval?: EvalReport;
  /** eval.json of a generation-task evaluation (ROUGE / BLEU): what the report's settings table shows of it. */
  generationEval?: GenerationEvalHead;
  /** predictions.jsonl (sft eval --out RUN_DIR), read leniently. */
  predictions?: Predictions;
  /** Files of RUN_FILES that are not there. */
  missing: string[];
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${i.path.length ? i.path.join('.') : '(top level)'}: ${i.message}`)
    .join('; ');
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new SftError(`cannot read ${path}: ${(err as Error).message}`, ErrorCode.FileNotFound);
  }
}

function parseJsonFile<T>(path: string, text: string, schema: z.ZodType<T>, what: string): T {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new SftError(`${path} is not valid JSON (${(err as Error).message}); it should hold ${what}`, ErrorCode.InvalidArgument);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw new SftError(`${path} is not ${what}: ${describeIssues(parsed.error)}`, ErrorCode.InvalidArgument);
  return parsed.data;
}

/** The fields of a generation-task eval.json (kind 'sft-eval-generate') the report uses. */
const generationEvalHead = z.looseObject({
  kind: z.literal('sft-eval-generate'),
  model: z.string(),
  data: z.string(),
  settings: z.record(z.string(), z.unknown()),
  adapter: z.looseObject({ path: z.string() }).optional(),
});
export type GenerationEvalHead = z.output<typeof generationEvalHead>;

function parseLenient(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Reads and checks a run.json written by sft train (INVALID_ARGUMENT naming the file when it is not one). */
export async function readRunRecord(file: string): Promise<RunRecord> {
  return parseJsonFile(file, await readFile(file, 'utf8'), runRecord, 'a run record written by sft train');
}

/** Parses log.jsonl leniently: a bad line is reported, not fatal. */
export function parseTrainLog(text: string): TrainLog {
  const byStep = new Map<number, LoggedStep>();
  const evaluations = new Map<number, LoggedEvaluation>();
  const unreadable: TrainLog['unreadable'] = [];
  let repeated = 0;
  text.split('\n').forEach((raw, i) => {
    if (raw.trim() === '') return;
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      unreadable.push({ line: i + 1, reason: 'not JSON' });
      return;
    }
    if (json !== null && typeof json === 'object' && 'eval_loss' in json) {
      const e = evalLine.safeParse(json);
      if (e.success) evaluations.set(e.data.step, { step: e.data.step, eval_loss: e.data.eval_loss, eval_acc: e.data.eval_acc, eval_resp_acc: e.data.eval_resp_acc, best: e.data.best });
      else unreadable.push({ line: i + 1, reason: describeIssues(e.error) });
      return;
    }
    const parsed = logLine.safeParse(json);
    if (!parsed.success) {
      unreadable.push({ line: i + 1, reason: describeIssues(parsed.error) });
      return;
    }
    const { step, epoch, loss, lr, gradNorm } = parsed.data;
    if (byStep.has(step)) repeated += 1;
    byStep.set(step, { step, ...(epoch !== undefined ? { epoch } : {}), loss, lr, gradNorm });
  });
  const steps = [...byStep.values()].sort((a, b) => a.step - b.step);
  return { steps, evaluations: [...evaluations.values()].sort((a, b) => a.step - b.step), unreadable, repeated };
}

/** Reads RUN_DIR; throws when it is not a folder or holds neither run.json nor eval.json. */
export async function readRunDir(runDir: string): Promise<RunDirContents> {
  const dir = resolve(runDir);
  const info = await stat(dir).catch(() => undefined);
  if (!info?.isDirectory()) {
    throw new SftError(`no run directory at ${dir}: ${RUN_DIR_LAYOUT}`, ErrorCode.FileNotFound);
  }
  const [runText, logText, evalText] = await Promise.all([
    readOptional(join(dir, RUN_FILES.run)),
    readOptional(join(dir, RUN_FILES.log)),
    readOptional(join(dir, RUN_FILES.eval)),
  ]);
  if (runText === undefined && evalText === undefined) {
    throw new SftError(`${dir} has no run.json (nor eval.json), so there is nothing to report: ${RUN_DIR_LAYOUT}`, ErrorCode.FileNotFound);
  }
  const contents: RunDirContents = { dir, missing: [] };
  if (runText !== undefined) contents.run = parseJsonFile(join(dir, RUN_FILES.run), runText, runRecord, 'a run record written by sft train');
  else contents.missing.push(RUN_FILES.run);
  if (logText !== undefined) contents.log = parseTrainLog(logText);
  else contents.missing.push(RUN_FILES.log);
  const generation = evalText === undefined ? undefined : generationEvalHead.safeParse(parseLenient(evalText));
  if (generation?.success) contents.generationEval = generation.data;
  else if (evalText !== undefined) contents.eval = parseJsonFile(join(dir, RUN_FILES.eval), evalText, evalReport, 'an evaluation report written by sft eval');
  else contents.missing.push(RUN_FILES.eval);
  const predictions = await readPredictions(dir);
  if (predictions) contents.predictions = predictions;
  return contents;
}
