// Where a --template value's text comes from: a builtin by name (builtin names win), else a file
// read as UTF-8 with its BOM dropped and CRLF turned into LF. Shared by label templates
// (templates.ts) and instruction templates (instruction-template.ts).
import { readFileSync, statSync } from 'node:fs';
import { ErrorCode, SftError } from '../errors.js';

/** The template text for `nameOrPath`; `kind` names the builtin set in the error ("builtin template"). */
export function templateText(nameOrPath: string, builtins: Readonly<Record<string, string>>, kind: string): string {
  if (Object.hasOwn(builtins, nameOrPath)) return builtins[nameOrPath] as string;
  let isFile = false;
  try {
    isFile = statSync(nameOrPath).isFile();
  } catch {
    // Not a file either: reported below together with the builtin names.
  }
  if (!isFile) {
    throw new SftError(`--template ${JSON.stringify(nameOrPath)} is neither a ${kind} (${Object.keys(builtins).join(', ')}) nor a file`, ErrorCode.InvalidArgument);
  }
  return readFileSync(nameOrPath, 'utf8').replace(/^\uFEFF/, '').replace(/\r\n/g, '\n');
}
