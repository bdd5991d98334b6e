// Draws ProgressEvents on stderr: one self-overwriting line on a terminal, plain lines (fewer
// of them) when stderr is a file or a pipe, so logs stay readable.
import type { ProgressEvent } from '../api/progress.js';
import { progressLine } from '../train/loop.js';

function bar(done: number, total: number, width = 24): string {
  const filled = total > 0 ? Math.round((done / total) * width) : width;
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}

export function progressView(stream: NodeJS.WriteStream = process.stderr): (event: ProgressEvent) => void {
  const tty = stream.isTTY === true;
  let open = false; // a \r line is on screen and needs a newline before other output
  let lastShare = -1;
  const line = (text: string, final: boolean) => {
    if (tty) {
      stream.write(`\r${text}\x1b[K${final ? '\n' : ''}`);
      open = !final;
    } else {
      stream.write(`${text}\n`);
    }
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
      case 'download': {
        const mib = (b: number) => (b / 2 ** 20).toFixed(1);
        const final = event.bytes >= event.totalBytes;
        const share = event.totalBytes > 0 ? Math.floor((event.bytes / event.totalBytes) * 10) : 10;
        if (tty || final || share !== lastShare) line(`download ${event.file} ${bar(event.bytes, event.totalBytes)} ${mib(event.bytes)}/${mib(event.totalBytes)} MiB`, final);
        lastShare = final ? -1 : share;
        break;
      }
      case 'train': {
        const text = progressLine(event, event.step, event.totalSteps, false).trimEnd();
        line(`epoch ${event.epoch + 1} ${text}`, event.step === event.totalSteps);
        break;
      }
      case 'eval': {
        const final = event.done === event.total;
        const share = Math.floor((event.done / event.total) * 10);
        if (tty || final || share !== lastShare) line(`eval ${event.which} ${bar(event.done, event.total)} ${event.done}/${event.total}`, final);
        lastShare = final ? -1 : share;
        break;
      }
    }
  };
}
