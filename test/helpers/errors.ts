// Asserts that a synchronous call throws an SftError with a given code whose message mentions
// each of the given strings; returns the error for further checks.
import { expect } from 'vitest';
import { SftError } from '../../src/errors.js';

export function expectSftError(fn: () => unknown, code: string, ...mentions: string[]): SftError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, `expected an SftError with code ${code}`).toBeInstanceOf(SftError);
  const error = caught as SftError;
  expect(error.code, error.message).toBe(code);
  for (const text of mentions) expect(error.message).toContain(text);
  return error;
}
