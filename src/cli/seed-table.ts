// The seed experiment's results table, as aligned plain text.
import type { SeedTableRow } from '../api/demo.js';

export function seedTable(rows: readonly SeedTableRow[]): string {
  const header = ['model', 'acc', 'resp_acc', 'acc_bf_train', 'resp_acc_bf_train'];
  const cells = rows.map((r) => [r.model, r.acc, r.resp_acc, r.acc_bf_train, r.resp_acc_bf_train].map((v) => (typeof v === 'number' ? v.toFixed(4) : v)));
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] as string).length)));
  const fmt = (c: string[]) => c.map((v, i) => (i === 0 ? v.padEnd(widths[i] as number) : v.padStart(widths[i] as number))).join('  ');
  return [fmt(header), fmt(widths.map((w) => '-'.repeat(w))), ...cells.map(fmt)].join('\n') + '\n';
}
