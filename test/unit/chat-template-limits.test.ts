// A chat template that loops far longer or writes far more than any chat (a huge range(), nested
// loops, a repeated string) fails with CHAT_TEMPLATE within a bounded time and memory, instead
// of hanging or running Node out of memory (found by the readers' fuzzing, test/fuzz).
import { describe, expect, it } from 'vitest';
import { ChatTemplate } from '../../src/tokenize/chat-template.js';
import { expectSftError } from '../helpers/errors.js';

const render = (source: string) => new ChatTemplate({ name: 'default', source, origin: 'test/chat_template' }).render([{ role: 'user', content: 'hi' }], {});

describe('chat template render limits', () => {
  it('a range() of billions of numbers fails at once, naming it', () => {
    expectSftError(() => render('{% for i in range(4294967296) %}x{% endfor %}'), 'CHAT_TEMPLATE', 'test/chat_template', 'range(4294967296)');
    expectSftError(() => render('{% for i in range(7, 99999999999, 1) %}x{% endfor %}'), 'CHAT_TEMPLATE', 'range(7, 99999999999, 1)');
  });

  it('nested loops that would run 10^10 steps stop at the step limit', () => {
    const started = performance.now();
    expectSftError(() => render('{% for i in range(100000) %}{% for j in range(100000) %}{{ j }}{% endfor %}{% endfor %}'), 'CHAT_TEMPLATE', 'steps');
    expect(performance.now() - started).toBeLessThan(60_000); // bounded, not a hang (the limit, not a timing claim)
  });

  it('output far larger than any prompt fails', () => {
    // A string doubled 30 times (2^30 characters) in 30 steps: stopped at 20 million characters.
    const doubling = "{% set ns = namespace(s='x') %}{% for i in range(30) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}";
    expectSftError(() => render(doubling), 'CHAT_TEMPLATE', 'characters');
  });

  it('ordinary loops and ranges still render', () => {
    expect(render('{% for i in range(3) %}{{ i }}{% endfor %}{% for m in messages %}{{ m.content }}{% endfor %}')).toBe('012hi');
    expect(render('{% for i in range(5, 0, -2) %}{{ i }}{% endfor %}')).toBe('531');
  });
});
