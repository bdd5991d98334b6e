// A static SVG line chart (title, axes with tick labels, one series) as a string, for the run
// report: it has to show without scripts or external files, so the chart is drawn here rather
// than by a charting library in the browser. Points with no finite y (a NaN loss logged as
// null) break the line into segments instead of being drawn as zero.
import { escapeHtml } from './html.js';

export interface ChartPoint {
  x: number;
  /** null (or a non-finite number) leaves a gap in the line. */
  y: number | null;
}

export interface LineChartOptions {
  /** Element id of the <svg>, e.g. 'chart-loss'. */
  id: string;
  title: string;
  xLabel: string;
  yLabel: string;
  /** Points in drawing order (sorted by x). */
  points: readonly ChartPoint[];
  width?: number;
  height?: number;
  /** The x axis spans exactly [from, to] (e.g. the run's first and last step), its last tick at `to`. @default the points' range, widened to round ticks */
  xDomain?: [number, number];
}

const MARGIN = { top: 34, right: 18, bottom: 44, left: 70 };
const TARGET_TICKS = 5;

/** A round step (1, 2 or 5 times a power of ten) giving about `target` intervals over `span`. */
export function niceStep(span: number, target = TARGET_TICKS): number {
  const raw = span / target;
  const power = 10 ** Math.floor(Math.log10(raw));
  const unit = raw / power;
  const nice = unit <= 1 ? 1 : unit <= 2 ? 2 : unit <= 5 ? 5 : 10;
  return Number((nice * power).toPrecision(12)); // 5 * 1e-5 is 4.9999e-5 in floating point
}

export interface Axis {
  min: number;
  max: number;
  step: number;
  ticks: number[];
}

/** An axis covering [lo, hi], widened to whole steps; a flat range is widened around its value. */
export function niceAxis(lo: number, hi: number): Axis {
  if (hi - lo <= Math.abs(hi) * 1e-12) {
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.5;
    lo -= pad;
    hi += pad;
  }
  const step = niceStep(hi - lo);
  const min = Math.floor(lo / step + 1e-9) * step;
  const max = Math.ceil(hi / step - 1e-9) * step;
  const ticks: number[] = [];
  // Ticks are k * step rounded to 12 digits, so 0.1 * 3 prints as 0.3.
  for (let k = Math.round(min / step); k <= Math.round(max / step); k++) ticks.push(Number((k * step).toPrecision(12)));
  return { min: ticks[0] ?? min, max: ticks[ticks.length - 1] ?? max, step, ticks };
}

/**
 * An axis spanning exactly [lo, hi] (a run's steps: the axis ends at the last step): round ticks
 * inside, and hi itself as the last tick (replacing a round tick too close to it to be read).
 */
export function exactAxis(lo: number, hi: number): Axis {
  if (hi <= lo) return niceAxis(lo, hi);
  const step = niceStep(hi - lo);
  const ticks: number[] = [];
  for (let k = Math.ceil(lo / step - 1e-9); k * step <= hi + 1e-9 * step; k++) ticks.push(Number((k * step).toPrecision(12)));
  while (ticks.length > 0 && hi - (ticks[ticks.length - 1] as number) < 0.4 * step) ticks.pop();
  ticks.push(hi);
  if ((ticks[0] as number) - lo >= 0.4 * step) ticks.unshift(lo);
  return { min: lo, max: hi, step, ticks };
}

/** A tick label with as many digits as the step needs; exponents for very small or large values. */
export function formatTick(value: number, step: number): string {
  if (value === 0) return '0';
  const magnitude = Math.max(Math.abs(value), step);
  if (step < 1e-3 || magnitude >= 1e6) {
    const digits = Math.max(0, Math.floor(Math.log10(magnitude)) - Math.floor(Math.log10(step)));
    const [mantissa = '', exponent = ''] = value.toExponential(digits).split('e');
    const trimmed = mantissa.includes('.') ? mantissa.replace(/\.?0+$/, '') : mantissa;
    return `${trimmed}e${exponent.replace('+', '')}`;
  }
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  return value.toFixed(decimals);
}

/** A value for the chart's caption: 4 significant digits, exponent when tiny. */
function formatValue(v: number): string {
  return Math.abs(v) !== 0 && Math.abs(v) < 1e-3 ? v.toExponential(3).replace(/\.?0+e/, 'e') : String(Number(v.toPrecision(4)));
}

function finite(p: ChartPoint): p is { x: number; y: number } {
  return Number.isFinite(p.x) && p.y !== null && Number.isFinite(p.y);
}

/** Runs of consecutive drawable points; a point with no finite y ends a run. */
function segments(points: readonly ChartPoint[]): { x: number; y: number }[][] {
  const runs: { x: number; y: number }[][] = [[]];
  for (const p of points) {
    if (finite(p)) (runs[runs.length - 1] as { x: number; y: number }[]).push(p);
    else if ((runs[runs.length - 1] as unknown[]).length > 0) runs.push([]);
  }
  return runs.filter((r) => r.length > 0);
}

const num = (v: number) => Number(v.toFixed(2)).toString();

/** The chart as an <svg> element string. */
export function lineChartSvg(o: LineChartOptions): string {
  const width = o.width ?? 640;
  const height = o.height ?? 260;
  const plotW = width - MARGIN.left - MARGIN.right;
  const plotH = height - MARGIN.top - MARGIN.bottom;
  const drawable = o.points.filter(finite);
  const titleId = `${o.id}-title`;
  const parts: string[] = [
    `<svg id="${escapeHtml(o.id)}" class="chart" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-labelledby="${escapeHtml(titleId)}">`,
    `<title id="${escapeHtml(titleId)}">${escapeHtml(o.title)}</title>`,
    `<text class="chart-title" x="${MARGIN.left}" y="20">${escapeHtml(o.title)}</text>`,
  ];
  if (drawable.length === 0) {
    parts.push(`<text class="chart-empty" x="${width / 2}" y="${height / 2}" text-anchor="middle">no finite values logged</text>`, '</svg>');
    return parts.join('\n');
  }

  const xs = drawable.map((p) => p.x);
  const ys = drawable.map((p) => p.y);
  const xAxis = o.xDomain ? exactAxis(o.xDomain[0], o.xDomain[1]) : niceAxis(Math.min(...xs), Math.max(...xs));
  const yAxis = niceAxis(Math.min(...ys), Math.max(...ys));
  const sx = (x: number) => MARGIN.left + ((x - xAxis.min) / (xAxis.max - xAxis.min)) * plotW;
  const sy = (y: number) => MARGIN.top + plotH - ((y - yAxis.min) / (yAxis.max - yAxis.min)) * plotH;
  const bottom = MARGIN.top + plotH;

  const grid: string[] = [];
  for (const t of yAxis.ticks) {
    const y = num(sy(t));
    grid.push(`<line class="grid" x1="${MARGIN.left}" y1="${y}" x2="${MARGIN.left + plotW}" y2="${y}"/>`);
    grid.push(`<text class="tick tick-y" x="${MARGIN.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${escapeHtml(formatTick(t, yAxis.step))}</text>`);
  }
  for (const t of xAxis.ticks) {
    const x = num(sx(t));
    grid.push(`<line class="tick-mark" x1="${x}" y1="${bottom}" x2="${x}" y2="${bottom + 5}"/>`);
    grid.push(`<text class="tick tick-x" x="${x}" y="${bottom + 18}" text-anchor="middle">${escapeHtml(formatTick(t, xAxis.step))}</text>`);
  }
  parts.push(`<g class="axes">`, ...grid);
  parts.push(`<line class="axis axis-x" x1="${MARGIN.left}" y1="${bottom}" x2="${MARGIN.left + plotW}" y2="${bottom}"/>`);
  parts.push(`<line class="axis axis-y" x1="${MARGIN.left}" y1="${MARGIN.top}" x2="${MARGIN.left}" y2="${bottom}"/>`);
  parts.push(`<text class="axis-label" x="${MARGIN.left + plotW / 2}" y="${height - 6}" text-anchor="middle">${escapeHtml(o.xLabel)}</text>`);
  parts.push(
    `<text class="axis-label" x="14" y="${MARGIN.top + plotH / 2}" text-anchor="middle" transform="rotate(-90 14 ${MARGIN.top + plotH / 2})">${escapeHtml(o.yLabel)}</text>`,
    '</g>',
  );

  for (const run of segments(o.points)) {
    if (run.length === 1) {
      const p = run[0] as { x: number; y: number };
      parts.push(`<circle class="series-point" cx="${num(sx(p.x))}" cy="${num(sy(p.y))}" r="3"/>`);
    } else {
      parts.push(`<polyline class="series" fill="none" points="${run.map((p) => `${num(sx(p.x))},${num(sy(p.y))}`).join(' ')}"/>`);
    }
  }

  const last = drawable[drawable.length - 1] as { x: number; y: number };
  const gaps = o.points.length - drawable.length;
  const caption = `last ${formatValue(last.y)} at ${o.xLabel} ${last.x}${gaps > 0 ? ` · ${gaps} point${gaps === 1 ? '' : 's'} not finite (gaps)` : ''}`;
  parts.push(`<text class="chart-caption" x="${MARGIN.left + plotW}" y="20" text-anchor="end">${escapeHtml(caption)}</text>`, '</svg>');
  return parts.join('\n');
}
