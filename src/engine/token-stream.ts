// An async iterator over one prompt's new tokens as the engine produces them. The native
// generate() reports each step through a callback and settles its promise with every token;
// the two arrive by different queues, so the promise's tokens are the authority: the stream
// yields the streamed tokens as they come, then whatever of the final result it has not yet
// yielded. Leaving the loop early (break, return, a throw) asks the engine to stop.
import { unpackRows, type PackedTokens } from '../data/pack.js';

export type StepListener = (step: Int32Array) => boolean | void;

/** `start(onStep)` launches one-prompt generation; the iterator yields its tokens, through the first EOS in `eos`. */
export async function* streamTokens(start: (onStep: StepListener) => Promise<PackedTokens>, eos: readonly number[]): AsyncGenerator<number, void, undefined> {
  const queue: number[] = [];
  let ended = false; // an EOS was streamed: later steps are padding
  let settled = false;
  let stopped = false;
  let result: number[] = [];
  let failure: { error: unknown } | undefined;
  let wake: (() => void) | undefined;
  const notify = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const running = start((step) => {
    if (stopped) return false;
    if (settled || ended) return;
    const token = step[0] as number;
    queue.push(token);
    if (eos.includes(token)) ended = true;
    notify();
  }).then(
    (packed) => {
      result = unpackRows(packed)[0] ?? [];
      settled = true;
      notify();
    },
    (error: unknown) => {
      failure = { error };
      settled = true;
      notify();
    },
  );
  let yielded = 0;
  try {
    for (;;) {
      while (queue.length > 0) {
        yield queue.shift() as number;
        yielded += 1;
      }
      if (settled) break;
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
    if (failure) throw failure.error;
    for (const token of result.slice(yielded)) yield token;
  } finally {
    stopped = true;
    await running;
  }
}
