// zod as the single gate for option objects: failures become SftError INVALID_ARGUMENT with a
// message naming the option, the allowed values and what was received.
import type { z } from 'zod';
import { ErrorCode, SftError } from '../errors.js';

export function parseOptions<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const path = issue.path.length ? issue.path.join('.') : '(root)';
    return `${path}: ${issue.message}`;
  });
  throw new SftError(`invalid ${what}: ${problems.join('; ')}`, ErrorCode.InvalidArgument);
}
