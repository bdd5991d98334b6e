// sft push: upload a trained adapter (or a merged checkpoint) to a Hugging Face Hub model repo,
// with a README model card written from the run's run.json / eval.json / adapter_config.json.
import type { Command } from 'commander';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ErrorCode, SftError } from '../../errors.js';
import { readRunDir, RUN_FILES } from '../../eval/run-dir.js';
import type { GenerationEvalReport } from '../../eval/generation-task-report.js';
import type { EvalReport, RunRecord } from '../../eval/report-types.js';
import { modelCard } from '../../hub/model-card.js';
import { pushFiles, type PushProgress } from '../../hub/push.js';
import { adapterPushFiles, mergedPushFiles } from '../../hub/push-files.js';
import { hubSettingsFromEnv } from '../../hub/settings.js';
import { abortOnInterrupt } from '../interrupt.js';

interface PushFlags {
  adapter?: string;
  merged?: string;
  repo: string;
  private?: boolean;
  run?: string;
  message?: string;
  json?: boolean;
}

/** run.json and eval.json of the run folder, when it holds them. */
async function runFiles(dir: string): Promise<{ run?: RunRecord; eval?: EvalReport; generationEval?: GenerationEvalReport }> {
  if (!existsSync(join(dir, RUN_FILES.run)) && !existsSync(join(dir, RUN_FILES.eval))) return {};
  const contents = await readRunDir(dir);
  // A generation-task eval.json (ROUGE / BLEU): the run dir reader keeps only its head; the card wants the figures.
  const generationEval = contents.generationEval ? (JSON.parse(readFileSync(join(dir, RUN_FILES.eval), 'utf8')) as GenerationEvalReport) : undefined;
  return { ...(contents.run ? { run: contents.run } : {}), ...(contents.eval ? { eval: contents.eval } : {}), ...(generationEval ? { generationEval } : {}) };
}

/** Progress lines: each phase, and each file's hashing / upload in tenths (large files take minutes). */
function progressPrinter(isPrivate: boolean): (p: PushProgress) => string | undefined {
  const printed = new Map<string, number>();
  return (p) => {
    if (p.phase === 'repo') {
      if (p.created) return `created the repo${isPrivate ? ' (private)' : ''}`;
      return `the repo exists and holds only files of this push: updating it${isPrivate ? ' (its visibility is left as it is)' : ''}`;
    }
    if (p.phase !== 'file') return { preuploading: 'asking the Hub which files go through LFS', uploadingLargeFiles: 'uploading the large files', committing: 'committing' }[p.phase];
    const key = `${p.state} ${p.path}`;
    const tenth = Math.floor(p.progress * 10);
    if (tenth <= (printed.get(key) ?? (p.progress === 1 ? -1 : 0))) return undefined;
    printed.set(key, tenth);
    return p.progress === 1 ? `  ${p.state === 'hashing' ? 'hashed' : 'uploaded'} ${p.path}` : `  ${p.state} ${p.path} ${tenth * 10}%`;
  };
}

export function registerPush(program: Command): void {
  program
    .command('push')
    .description('upload an adapter (or a merged checkpoint) to a Hugging Face Hub model repo, with a model card (needs HF_TOKEN)')
    .option('--adapter <dir>', 'PEFT adapter folder (an `sft train --out`): adapter_config.json, adapter_model.safetensors')
    .option('--merged <dir>', 'merged 16-bit checkpoint folder (an `sft merge --out`): config.json, *.safetensors, tokenizer files')
    .requiredOption('--repo <org/name>', 'Hub model repo to create or update (HF_ENDPOINT picks the Hub)')
    .option('--private', 'create the repo private (an existing repo keeps its visibility)')
    .option('--run <dir>', 'run folder whose run.json / eval.json the model card describes (default: the uploaded folder)')
    .option('--message <text>', 'commit message (default: "Upload <adapter|merged model> with sft push")')
    .option('--json', 'print {url, commit, created, files} as JSON')
    .action(async (flags: PushFlags) => {
      if ((flags.adapter === undefined) === (flags.merged === undefined)) {
        throw new SftError('sft push: give exactly one of --adapter DIR and --merged DIR', ErrorCode.InvalidArgument);
      }
      const kind = flags.adapter !== undefined ? 'adapter' : 'merged';
      const dir = resolve((flags.adapter ?? flags.merged) as string);
      const files = kind === 'adapter' ? adapterPushFiles(dir) : mergedPushFiles(dir);
      const adapterConfigFile = join(dir, 'adapter_config.json');
      const adapterConfig = existsSync(adapterConfigFile) ? (JSON.parse(readFileSync(adapterConfigFile, 'utf8')) as Record<string, unknown>) : undefined;
      const card = modelCard({ repo: flags.repo, kind, ...(adapterConfig ? { adapterConfig } : {}), ...(await runFiles(resolve(flags.run ?? dir))) });
      files.push({ path: 'README.md', source: { text: card } });

      const progress = progressPrinter(flags.private === true);
      const interrupt = abortOnInterrupt();
      try {
        const result = await pushFiles({
          repo: flags.repo,
          files,
          private: flags.private === true,
          hub: hubSettingsFromEnv(),
          commitTitle: flags.message ?? `Upload ${kind === 'adapter' ? 'adapter' : 'merged model'} with sft push`,
          onProgress: (p) => {
            const line = flags.json ? undefined : progress(p);
            if (line) process.stderr.write(`${line}\n`);
          },
          signal: interrupt.signal,
        });
        if (flags.json) {
          process.stdout.write(`${JSON.stringify(result)}\n`);
          return;
        }
        process.stdout.write(`pushed ${result.files.length} files (${result.files.join(', ')}) to ${result.url} (commit ${result.commit.slice(0, 10)})\n`);
      } finally {
        interrupt.release();
      }
    });
}
