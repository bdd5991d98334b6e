// sft models: the presets --model accepts, their Hub repos, and which are already in the
// Hugging Face cache (HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub).
import type { Command } from 'commander';
import { presetCacheStatus, type PresetStatus } from '../../hub/preset-status.js';
import { hubSettingsFromEnv } from '../../hub/settings.js';

function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, col) => Math.max(...rows.map((r) => (r[col] ?? '').length))) ?? [];
  return rows.map((r) => r.map((cell, col) => (col === r.length - 1 ? cell : cell.padEnd(widths[col] ?? 0))).join('  ')).join('\n');
}

function cachedCell(s: PresetStatus): string {
  return s.cached ? `yes  ${formatBytes(s.bytes ?? 0)}  ${s.path}` : 'no';
}

export function registerModels(program: Command): void {
  program
    .command('models')
    .description('list the model presets, their Hugging Face repos, and which are in the local cache')
    .option('--json', 'print {"cacheDir": ..., "presets": [{preset, repo, family, description, cached, path?, bytes?, commit?}]}')
    .action((flags: { json?: boolean }) => {
      const { cacheDir, offline } = hubSettingsFromEnv();
      const presets = presetCacheStatus(cacheDir);
      if (flags.json) {
        process.stdout.write(`${JSON.stringify({ cacheDir, presets })}\n`);
        return;
      }
      const rows = [['preset', 'repo', 'family', 'cached'], ...presets.map((s) => [s.preset, s.repo, s.family, cachedCell(s)])];
      process.stdout.write(`${table(rows)}\n\ncache: ${cacheDir}${offline ? ' (offline: HF_HUB_OFFLINE is set)' : ''}\n`);
      process.stdout.write("--model also takes a Hub repo id (org/name), a local checkpoint folder, or 'demo'.\n");
    });
}
