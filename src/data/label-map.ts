// --label-map: which values of the label column are classes, and what the model is trained to
// write for each. "positive=1,negative=0" reads: rows labelled `positive` teach the answer `1`.
// The order given is kept: it is the class order of reports and confusion matrices.
import { ErrorCode, SftError } from '../errors.js';

export interface LabelClass {
  /** The label as it appears in the data (matched against the label column). */
  name: string;
  /** What the model is trained to write for this class (and what the eval parser looks for). */
  answer: string;
}

function labelMapError(spec: string, what: string): SftError {
  return new SftError(`Invalid --label-map ${JSON.stringify(spec)}: ${what}. Expected comma-separated name=answer pairs, e.g. positive=1,negative=0`, ErrorCode.InvalidArgument);
}

/**
 * Parses `name=answer,name=answer,...`. Spaces around names and answers are trimmed. An entry
 * without '=' is its own answer ("positive,negative" trains the model to write the label itself).
 * At least two classes, no empty parts, no name or answer twice: a one-class map is nearly always
 * a typo (`positive=1;negative=0`) and would train and score nothing.
 */
export function labelMapFromString(spec: string): LabelClass[] {
  const classes: LabelClass[] = [];
  for (const entry of spec.split(',')) {
    const eq = entry.indexOf('=');
    const name = (eq < 0 ? entry : entry.slice(0, eq)).trim();
    const answer = (eq < 0 ? entry : entry.slice(eq + 1)).trim();
    if (name === '' || answer === '') throw labelMapError(spec, `entry ${JSON.stringify(entry)} has an empty ${name === '' ? 'name' : 'answer'}`);
    if (classes.some((c) => c.name === name)) throw labelMapError(spec, `label ${JSON.stringify(name)} appears twice`);
    if (classes.some((c) => c.answer === answer)) throw labelMapError(spec, `answer ${JSON.stringify(answer)} is given to two labels, so a prediction could not tell them apart`);
    classes.push({ name, answer });
  }
  if (classes.length < 2) throw labelMapError(spec, 'a classification needs at least two classes');
  return classes;
}

/** The inverse of labelMapFromString, for run records and reports. */
export function labelMapToString(classes: readonly LabelClass[]): string {
  return classes.map((c) => `${c.name}=${c.answer}`).join(',');
}
