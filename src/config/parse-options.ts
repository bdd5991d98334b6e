// zod as the single gate for option objects: failures become SftError INVALID_ARGUMENT with a
// message naming the option, the allowed values and what was received. The CLI passes
// `name` to print options as its flags (--max-seq-len) instead of API keys (maxSeqLen).
import type { z } from 'zod';
import { ErrorCode, SftError } from '../errors.js';

export function parseOptions<S extends z.ZodType>(
  schema: S,
  value: unknown,
  what: string,
  name: (path: string) => string = (path) => path,
): z.output<S> {
  const result = schema.safeParse(value, { reportInput: true });
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const path = issue.path.length ? name(issue.path.join('.')) : '(root)';
    const received = issue.code === 'invalid_type' && !issue.message.includes('received') && 'input' in issue && issue.input !== undefined ? ` (received ${JSON.stringify(issue.input)})` : '';
    return `${path}: ${issue.message}${received}`;
  });
  throw new SftError(`invalid ${what}: ${problems.join('; ')}`, ErrorCode.InvalidArgument);
}

/** maxSeqLen -> --max-seq-len (the CLI's spelling of an API option). */
export function flagName(path: string): string {
  const key = path.split('.')[0] ?? path;
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}
