// `sft report` as a user runs it (the built CLI) on a copy of the demo run, then the page in a
// real headless Chromium: the DOM after parsing must hold the charts and the before/after
// table, and a screenshot must show the chart lines painted. Chromium comes from the Debian
// package `chromium` (scripts/setup.sh installs it when root); CHROMIUM_BIN points elsewhere.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { inflateSync } from 'node:zlib';
import { sft } from '../helpers/cli.js';
import { NEED, skipWithout } from '../helpers/skip.js';

const run = promisify(execFile);
const demoRun = join(import.meta.dirname, '..', 'fixtures', 'runs', 'demo-run');
// The chart line colour in html-report.ts (#2f6fde).
const SERIES_RGB = [0x2f, 0x6f, 0xde] as const;

function findChromium(): string | undefined {
  const configured = process.env.CHROMIUM_BIN;
  if (configured) return existsSync(configured) ? configured : undefined;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    for (const name of ['chromium', 'chromium-browser']) {
      if (dir && existsSync(join(dir, name))) return join(dir, name);
    }
  }
  return existsSync('/usr/bin/chromium') ? '/usr/bin/chromium' : undefined;
}

const chromium = findChromium();
const noChromium = skipWithout(chromium !== undefined, `sft report in a browser${process.env.CHROMIUM_BIN ? ` (CHROMIUM_BIN=${process.env.CHROMIUM_BIN} is not there)` : ''}`, NEED.chromium);
let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'nq-report-html-'));
});
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

/** Runs headless Chromium on a page with its own profile folder; `mode` is --dump-dom or --screenshot=FILE. */
async function chromiumOn(page: string, mode: string): Promise<string> {
  const profile = mkdtempSync(join(work, 'profile-'));
  const args = [
    '--headless=new',
    '--no-sandbox', // CI runs as root, where the sandbox refuses to start
    '--disable-gpu',
    '--disable-dev-shm-usage',
    '--no-first-run',
    '--no-default-browser-check',
    '--disable-extensions',
    '--disable-background-networking',
    '--disable-sync',
    '--hide-scrollbars',
    `--user-data-dir=${profile}`,
    '--window-size=1100,4000',
    mode,
    pathToFileURL(page).href,
  ];
  const { stdout } = await run(chromium as string, args, { timeout: 30_000, maxBuffer: 32 * 2 ** 20 });
  return stdout;
}

/** Cells of each <tr> of the table with this id, in a serialized DOM. */
function tableRows(dom: string, id: string): string[][] {
  const start = dom.indexOf(`<table id="${id}"`);
  expect(start, `table #${id}`).toBeGreaterThanOrEqual(0);
  const table = dom.slice(start, dom.indexOf('</table>', start));
  return [...table.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map((m) => [...(m[1] as string).matchAll(/<t[hd][^>]*>([\s\S]*?)<\/t[hd]>/g)].map((c) => c[1] as string));
}

/** Decodes an 8-bit RGB or RGBA, non-interlaced PNG (what Chromium writes) into pixel rows. */
function decodePng(png: Buffer): { width: number; height: number; channels: number; pixels: Buffer } {
  expect(png.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])), 'PNG signature').toBe(true);
  let offset = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  while (offset < png.length) {
    const length = png.readUInt32BE(offset);
    const type = png.toString('ascii', offset + 4, offset + 8);
    const data = png.subarray(offset + 8, offset + 8 + length);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      expect(data[8], 'bit depth').toBe(8);
      expect(data[12], 'interlace').toBe(0);
      channels = ({ 2: 3, 6: 4 } as Record<number, number>)[data[9] as number] ?? 0;
      expect(channels, `colour type ${data[9]}`).toBeGreaterThan(0);
    } else if (type === 'IDAT') {
      idat.push(data);
    }
    offset += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const pixels = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)] as number;
    for (let x = 0; x < stride; x++) {
      const v = raw[y * (stride + 1) + 1 + x] as number;
      const a = x >= channels ? (pixels[y * stride + x - channels] as number) : 0;
      const b = y > 0 ? (pixels[(y - 1) * stride + x] as number) : 0;
      const c = x >= channels && y > 0 ? (pixels[(y - 1) * stride + x - channels] as number) : 0;
      let predicted = 0;
      if (filter === 1) predicted = a;
      else if (filter === 2) predicted = b;
      else if (filter === 3) predicted = (a + b) >> 1;
      else if (filter === 4) {
        const p = a + b - c;
        const [pa, pb, pc] = [Math.abs(p - a), Math.abs(p - b), Math.abs(p - c)];
        predicted = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      pixels[y * stride + x] = (v + predicted) & 0xff;
    }
  }
  return { width, height, channels, pixels };
}

/** How many pixels are close to the chart line colour. */
function seriesPixels(png: Buffer): number {
  const { width, height, channels, pixels } = decodePng(png);
  let count = 0;
  for (let i = 0; i < width * height; i++) {
    const o = i * channels;
    const d = Math.abs((pixels[o] as number) - SERIES_RGB[0]) + Math.abs((pixels[o + 1] as number) - SERIES_RGB[1]) + Math.abs((pixels[o + 2] as number) - SERIES_RGB[2]);
    if (d <= 30) count += 1;
  }
  return count;
}

describe.skipIf(noChromium)('sft report in a browser', () => {
  let runDir: string;
  let page: string;
  let dom: string;

  beforeAll(async () => {
    runDir = join(work, 'demo-run');
    cpSync(demoRun, runDir, { recursive: true });
    const res = await sft(['report', runDir]);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    page = join(runDir, 'report.html');
    expect(res.stdout).toBe(`${page}\n`);
    dom = await chromiumOn(page, '--dump-dom');
  });

  it('renders the three charts as SVG with one vertex per logged step', () => {
    for (const id of ['chart-loss', 'chart-lr', 'chart-grad-norm']) {
      const start = dom.indexOf(`<svg id="${id}"`);
      expect(start, id).toBeGreaterThanOrEqual(0);
      const svg = dom.slice(start, dom.indexOf('</svg>', start));
      const points = /<polyline[^>]* points="([^"]*)"/.exec(svg)?.[1] ?? '';
      expect(points.trim().split(/\s+/), id).toHaveLength(30);
      expect(svg).toContain('class="tick tick-y"');
    }
  });

  it('renders the before/after table with the numbers of eval.json', () => {
    expect(tableRows(dom, 'before-after')).toEqual([
      ['model', 'acc', 'resp_acc', 'acc_bf_train', 'resp_acc_bf_train'],
      ['qwen3-4b', '0.9300', '0.9950', '0.4900', '0.7500'],
    ]);
    expect(tableRows(dom, 'confusion-adapter')[1]).toEqual(['positive', '94', '5', '1']);
  });

  it('shows config text as text, not markup', () => {
    expect(dom).toContain('Review: &lt;text&gt;');
    expect(dom).toContain('text &lt;br/&gt; only &amp; nothing | else');
    expect(dom).not.toMatch(/<script|<br\/?>/);
  });

  it('paints the chart lines (a screenshot holds the series colour)', async () => {
    const shot = join(work, 'report.png');
    await chromiumOn(page, `--screenshot=${shot}`);
    // Three polylines about 550 px long and 1.8 px wide; a page that failed to paint them has none.
    expect(seriesPixels(readFileSync(shot))).toBeGreaterThan(1000);
  });
});

describe('sft report on partial or wrong folders', () => {
  it.skipIf(noChromium)('a run directory with only eval.json: tables and a note, no charts', async () => {
    const dir = join(work, 'eval-only');
    cpSync(join(demoRun, 'eval.json'), join(dir, 'eval.json'), { recursive: true });
    const out = join(work, 'eval-only.html');
    const res = await sft(['report', dir, '--out', out]);
    expect(res.code).toBe(0);
    expect(res.stdout).toBe(`${out}\n`);
    const dom = await chromiumOn(out, '--dump-dom');
    expect(dom).toContain('No log.jsonl: there are no training curves');
    expect(dom).not.toContain('<svg');
    expect(tableRows(dom, 'before-after')[1]).toEqual(['qwen3-4b', '0.9300', '0.9950', '0.4900', '0.7500']);
  });

  it('a folder without run.json: exit 1, naming the folder and the files a run holds', async () => {
    const dir = mkdtempSync(join(work, 'empty-'));
    const res = await sft(['report', dir]);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(dir);
    expect(res.stderr).toContain('no run.json');
    expect(res.stderr).toContain('log.jsonl');
    expect(res.stderr).toContain('[FILE_NOT_FOUND]');
  });
});
