// Runs train() of the compiled dist/ with the options in NQ_TEST_TRAIN_OPTIONS (JSON) and kills
// its own process with SIGKILL (nothing runs after it: no handler, no cleanup) at the moment
// NQ_TEST_KILL_AT names. The real save and step functions run; this test worker wraps them to
// pick the moment, so the hook lives in the tests, not in production code.
//   step:N             before optimizer step N runs (after step N-1 and its checkpoint, if any)
//   checkpoint-save:N  inside the save of checkpoints/step-N: after its adapter file is written
//                      into the temporary folder, before the optimizer state and the rename
//   after-checkpoint:N right after checkpoints/step-N is in place
//   final-adapter      after the final adapter is written to the run folder, before run.json is finished
//   after-ms:T         T milliseconds after step 1 began, wherever the run is then (a step, a
//                      native write of a checkpoint, the log): the timer fires while the model's
//                      thread works
//   sigint-twice-in-save:N  the run listens to signals as `sft train` does (cli/interrupt.js);
//                      inside the save of checkpoints/step-N it sends itself SIGINT twice: the
//                      first asks for a stop, the second ends the process before the save is done
import { basename } from 'node:path';
import { train } from '../../dist/api/train.js';
import { Model } from '../../dist/engine/model.js';
import { Trainer } from '../../dist/train/trainer.js';
import { abortOnInterrupt } from '../../dist/cli/interrupt.js';

const options = JSON.parse(process.env.NQ_TEST_TRAIN_OPTIONS ?? '{}');
const killAt = process.env.NQ_TEST_KILL_AT ?? '';
const die = () => process.kill(process.pid, 'SIGKILL');

const step = Trainer.prototype.step;
let timerStarted = false;
Trainer.prototype.step = function (batches) {
  if (killAt === `step:${this.stepCount + 1}`) die();
  const delay = /^after-ms:(\d+)$/.exec(killAt);
  if (delay && !timerStarted) {
    timerStarted = true;
    setTimeout(die, Number(delay[1]));
  }
  return step.call(this, batches);
};

const save = Trainer.prototype.save;
Trainer.prototype.save = async function (dir, position) {
  await save.call(this, dir, position);
  if (killAt === `after-checkpoint:${this.stepCount}`) die();
};

const saveAdapter = Model.prototype.saveAdapter;
Model.prototype.saveAdapter = async function (dir) {
  await saveAdapter.call(this, dir);
  const checkpoint = /^step-(\d+)\.tmp-\d+-\d+$/.exec(basename(dir));
  if (checkpoint && killAt === `checkpoint-save:${checkpoint[1]}`) die();
  if (checkpoint && killAt === `sigint-twice-in-save:${checkpoint[1]}`) {
    process.kill(process.pid, 'SIGINT');
    process.kill(process.pid, 'SIGINT');
  }
  if (!checkpoint && killAt === 'final-adapter') die();
};

const interrupt = abortOnInterrupt();
await train(options, { signal: interrupt.signal });
process.stdout.write('finished without being killed\n');
