// The inline SVG line chart: one vertex per finite point, gaps for missing values, axes with
// round ticks, escaped text.
import { describe, expect, it } from 'vitest';
import { formatTick, lineChartSvg, niceAxis, niceStep } from '../../src/eval/svg-chart.js';
import { exactAxis } from '../../src/eval/svg-chart.js';

/** The vertices of each <polyline> in an SVG string, as [x, y] pairs. */
function polylines(svg: string): [number, number][][] {
  return [...svg.matchAll(/<polyline[^>]* points="([^"]*)"/g)].map((m) =>
    (m[1] as string).split(' ').map((pair) => pair.split(',').map(Number) as [number, number]),
  );
}

describe('lineChartSvg', () => {
  const points = Array.from({ length: 30 }, (_, i) => ({ x: 2 * (i + 1), y: 2 / (i + 1) }));
  const svg = lineChartSvg({ id: 'chart-loss', title: 'Training loss', xLabel: 'step', yLabel: 'loss', points });

  it('draws one polyline with a vertex per point, left to right, higher values higher up', () => {
    const lines = polylines(svg);
    expect(lines).toHaveLength(1);
    const line = lines[0] as [number, number][];
    expect(line).toHaveLength(30);
    for (let i = 1; i < line.length; i++) {
      expect((line[i] as number[])[0]).toBeGreaterThan((line[i - 1] as number[])[0] as number);
      expect((line[i] as number[])[1]).toBeGreaterThan((line[i - 1] as number[])[1] as number); // y falls, so it is drawn lower (svg y grows downwards)
    }
  });

  it('keeps every vertex inside the plot area', () => {
    for (const [x, y] of polylines(svg)[0] ?? []) {
      expect(x).toBeGreaterThanOrEqual(70);
      expect(x).toBeLessThanOrEqual(640 - 18);
      expect(y).toBeGreaterThanOrEqual(34);
      expect(y).toBeLessThanOrEqual(260 - 44);
    }
  });

  it('has the id, a title and tick labels on both axes', () => {
    expect(svg).toMatch(/^<svg id="chart-loss" class="chart"/);
    expect(svg).toContain('<title id="chart-loss-title">Training loss</title>');
    const xTicks = [...svg.matchAll(/class="tick tick-x"[^>]*>([^<]*)</g)].map((m) => m[1]);
    const yTicks = [...svg.matchAll(/class="tick tick-y"[^>]*>([^<]*)</g)].map((m) => m[1]);
    expect(xTicks).toEqual(['0', '20', '40', '60']);
    expect(yTicks).toEqual(['0', '0.5', '1.0', '1.5', '2.0']);
    expect(svg).toContain('last 0.06667 at step 60');
  });

  it('breaks the line where a value is missing and marks a lone point', () => {
    const gappy = [
      { x: 1, y: 1 },
      { x: 2, y: 2 },
      { x: 3, y: null },
      { x: 4, y: 3 },
      { x: 5, y: Number.NaN },
      { x: 6, y: 2 },
      { x: 7, y: 1 },
    ];
    const out = lineChartSvg({ id: 'c', title: 't', xLabel: 'step', yLabel: 'y', points: gappy });
    expect(polylines(out).map((l) => l.length)).toEqual([2, 2]);
    expect(out.match(/<circle /g)).toHaveLength(1);
    expect(out).toContain('2 points not finite (gaps)');
  });

  it('says so when nothing is drawable', () => {
    const out = lineChartSvg({ id: 'c', title: 't', xLabel: 'step', yLabel: 'y', points: [{ x: 1, y: null }] });
    expect(out).toContain('no finite values logged');
    expect(out).not.toContain('<polyline');
  });

  it('draws a flat series (constant lr) in the middle of its axis', () => {
    const out = lineChartSvg({ id: 'c', title: 't', xLabel: 'step', yLabel: 'lr', points: [{ x: 1, y: 2e-4 }, { x: 2, y: 2e-4 }] });
    const ys = (polylines(out)[0] ?? []).map(([, y]) => y);
    expect(ys).toHaveLength(2);
    expect(ys[0]).toBe(ys[1]);
    expect(ys[0]).toBeCloseTo(34 + (260 - 34 - 44) / 2, 0);
  });

  it('escapes its texts', () => {
    const out = lineChartSvg({ id: 'x"y', title: '<b>loss</b> & co', xLabel: 's<', yLabel: 'y>', points: [{ x: 1, y: 1 }] });
    expect(out).toContain('id="x&#34;y"');
    expect(out).toContain('&#60;b&#62;loss&#60;/b&#62; &#38; co');
    expect(out).not.toContain('<b>');
  });
});

describe('axes', () => {
  it('picks 1-2-5 steps', () => {
    expect(niceStep(60)).toBe(20);
    expect(niceStep(2.5)).toBe(0.5);
    expect(niceStep(2e-4)).toBe(5e-5);
    expect(niceStep(7)).toBe(2);
  });
  it('widens the range to whole steps and rounds the ticks', () => {
    expect(niceAxis(0.35, 2.56)).toEqual({ min: 0, max: 3, step: 0.5, ticks: [0, 0.5, 1, 1.5, 2, 2.5, 3] });
    expect(niceAxis(0.1, 0.3).ticks).toEqual([0.1, 0.15, 0.2, 0.25, 0.3]);
    expect(niceAxis(5, 5)).toEqual({ min: 2, max: 8, step: 1, ticks: [2, 3, 4, 5, 6, 7, 8] }); // widened by half its value
    expect(niceAxis(0, 0).ticks).toEqual([-1, -0.5, 0, 0.5, 1]);
  });
  it('formats ticks with the digits the step needs, exponents for tiny values', () => {
    expect(formatTick(0.5, 0.5)).toBe('0.5');
    expect(formatTick(1, 0.5)).toBe('1.0');
    expect(formatTick(40, 20)).toBe('40');
    expect(formatTick(1.5e-4, 5e-5)).toBe('1.5e-4');
    expect(formatTick(2e-4, 5e-5)).toBe('2e-4');
    expect(formatTick(0, 5e-5)).toBe('0');
    expect(formatTick(2_000_000, 500_000)).toBe('2e6');
  });
});

describe('exactAxis (step axes that end at the last step)', () => {
  it('spans exactly [first, last] with round ticks inside and the last step as the last tick', () => {
    expect(exactAxis(1, 30)).toEqual({ min: 1, max: 30, step: 10, ticks: [1, 10, 20, 30] });
    expect(exactAxis(1, 37).ticks).toEqual([1, 10, 20, 30, 37]);
    // 101 is too close to 100 for both to be read: 100 gives way to the last step.
    expect(exactAxis(0, 101).ticks).toEqual([0, 50, 101]);
    expect(exactAxis(0, 1000).ticks.at(-1)).toBe(1000);
    expect(exactAxis(5, 5).ticks.length).toBeGreaterThan(1); // one step: widened as niceAxis does
  });
});
