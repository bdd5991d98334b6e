// LR schedules against transformers' get_scheduler (test/fixtures/schedules.json, written by
// scripts/reference/make_schedule_fixtures.py).
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { learningRate, type ScheduleName } from '../../src/train/schedule.js';

interface Case {
  schedule: ScheduleName;
  lr: number;
  warmup_steps: number;
  total_steps: number;
  sample_steps: number[];
  lrs: number[];
}
const fixture = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'schedules.json'), 'utf8')) as { cases: Case[] };

describe.each(fixture.cases)('$schedule lr=$lr warmup=$warmup_steps total=$total_steps', (c) => {
  it('equals transformers at every sampled step', () => {
    const schedule = { name: c.schedule, lr: c.lr, warmupSteps: c.warmup_steps, totalSteps: c.total_steps };
    c.sample_steps.forEach((step, i) => {
      expect(learningRate(schedule, step)).toBeCloseTo(c.lrs[i] as number, 15);
    });
  });
});

describe('schedule arguments', () => {
  it('rejects a negative or fractional step', () => {
    const s = { name: 'linear' as const, lr: 1e-3, warmupSteps: 0, totalSteps: 10 };
    expect(() => learningRate(s, -1)).toThrow(/step/);
    expect(() => learningRate(s, 1.5)).toThrow(/step/);
  });
});
