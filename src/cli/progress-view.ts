// Draws ProgressEvents on stderr: one self-overwriting line on a terminal, plain lines (fewer
// of them) when stderr is a file or a pipe, so logs stay readable.
import type { ProgressEvent } from '../api/progress.js';
import { evalProgressLine, progressBar, progressLine } from '../train/loop.js';

const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);

export function progressView(stream: NodeJS.WriteStream = process.stderr): (event: ProgressEvent) => void {
  const tty = stream.isTTY === true;
  let open = false; // a \r line is on screen and needs a newline before other output
  let lastTenth = -1;
  const line = (text: string, final: boolean) => {
    if (tty) {
      stream.write(`\r${text}\x1b[K${final ? '\n' : ''}`);
      open = !final;
    } else {
      stream.write(`${text}\n`);
    }
  };
  /** A bar for work measured in done/total: every update on a terminal, each tenth (and the end) otherwise. */
  const share = (done: number, total: number, text: (bar: string) => string) => {
    const final = done >= total;
    const tenth = total > 0 ? Math.floor((done / total) * 10) : 10;
    if (tty || final || tenth !== lastTenth) line(text(progressBar(done, total)), final);
    lastTenth = final ? -1 : tenth;
  };
  const message = (text: string) => {
    if (open) stream.write('\n');
    open = false;
    stream.write(`${text}\n`);
  };
  return (event) => {
    switch (event.phase) {
      case 'model':
      case 'data':
        message(event.message);
        break;
      case 'save':
        message(`saved ${event.path}`);
        break;
      case 'download':
        share(event.bytes, event.totalBytes, (bar) => `download ${event.file} ${bar} ${mib(event.bytes)}/${mib(event.totalBytes)} MiB`);
        break;
      case 'import':
        share(event.bytes, event.totalBytes, (bar) => `import ${bar} ${event.done}/${event.count} tensors ${mib(event.bytes)}/${mib(event.totalBytes)} MiB`);
        break;
      case 'train': {
        const text = progressLine(event, event.step, event.totalSteps, false).trimEnd();
        line(`epoch ${event.epoch + 1} ${text}`, event.step === event.totalSteps);
        break;
      }
      case 'validation':
        message(evalProgressLine(event, event.totalSteps));
        break;
      case 'eval':
        share(event.done, event.total, (bar) => `eval ${event.which} ${bar} ${event.done}/${event.total}`);
        break;
    }
  };
}
