// How config problems become SftErrors: one wording for zod issues and for our own checks, so
// every message names the file, the key path, what was expected and what was found.

import type { z } from 'zod';
import { ErrorCode, SftError } from '../errors.js';

/** A short, printable rendering of a received JSON value. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing (the key is missing)';
  const text = JSON.stringify(value);
  if (text === undefined) return String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

export function keyPath(path: readonly PropertyKey[]): string {
  return path.length === 0 ? '(top level)' : path.map(String).join('.');
}

/** CONFIG_INVALID: "<file>: key "<path>": expected <what> but received <value>". */
export function configInvalid(source: string, path: string, expected: string, received: unknown): SftError {
  return new SftError(
    `${source}: key "${path}": expected ${expected} but received ${describeValue(received)}. ` +
      'Fix the value in the file (or re-download the model).',
    ErrorCode.ConfigInvalid,
  );
}

/** UNSUPPORTED_MODEL: the value is valid for transformers but this engine does not implement it. */
export function unsupported(source: string, path: string, value: unknown, supported: readonly string[]): SftError {
  return new SftError(
    `${source}: key "${path}" is ${describeValue(value)}, which node-qlora does not support. ` +
      `Supported: ${supported.join(', ')}.`,
    ErrorCode.UnsupportedModel,
  );
}

function expectedOf(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return issue.expected;
    case 'too_small':
      return `${issue.origin} ${issue.inclusive ? '>=' : '>'} ${String(issue.minimum)}`;
    case 'too_big':
      return `${issue.origin} ${issue.inclusive ? '<=' : '<'} ${String(issue.maximum)}`;
    case 'invalid_value':
      return `one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'not_multiple_of':
      return `a multiple of ${String(issue.divisor)}`;
    default:
      return issue.message;
  }
}

/** The first zod issue as CONFIG_INVALID (zod lists them in document order). */
export function fromZodError(source: string, error: z.ZodError, prefix: readonly PropertyKey[] = []): SftError {
  const issue = error.issues[0];
  if (issue === undefined) return configInvalid(source, keyPath(prefix), 'a valid config', undefined);
  const more = error.issues.length > 1 ? ` (${error.issues.length - 1} more problem(s) after this one)` : '';
  const err = configInvalid(source, keyPath([...prefix, ...issue.path]), expectedOf(issue), issue.input);
  err.message += more;
  return err;
}
