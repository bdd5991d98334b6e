// sft report: a self-contained HTML page about a run directory (config, curves, before/after).
import type { Command } from 'commander';
import { join } from 'node:path';
import { writeRunReport } from '../../eval/html-report.js';
import { checkOutputPath } from '../../io/output-path.js';

interface ReportFlags {
  out?: string;
}

export function registerReport(program: Command): void {
  program
    .command('report')
    .description('write a self-contained HTML page about a run directory: configuration, loss / lr / grad-norm curves, before/after evaluation')
    .argument('<run-dir>', 'run directory (run.json, log.jsonl from sft train; eval.json from sft eval --out)')
    .option('--out <file>', 'HTML file to write (default: RUN_DIR/report.html)')
    .action(async (runDir: string, flags: ReportFlags) => {
      checkOutputPath(flags.out ?? join(runDir, 'report.html'), 'file');
      const written = await writeRunReport(runDir, flags.out);
      process.stdout.write(`${written}\n`);
    });
}
