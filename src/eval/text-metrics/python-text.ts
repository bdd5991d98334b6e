// Python's notion of whitespace, which sacrebleu's `str.split()` and `str.rstrip()` use: the
// characters for which `str.isspace()` is true. JavaScript's \s differs (it has U+FEFF, lacks
// U+001C-U+001F and U+0085), and a different set would change where tokens break.

const PYTHON_SPACE = '\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const SPACE_RUN = new RegExp(`[${PYTHON_SPACE}]+`, 'u');
const TRAILING_SPACE = new RegExp(`[${PYTHON_SPACE}]+$`, 'u');

/** `text.split()` in Python: the words between runs of whitespace, none empty. */
export function pythonSplit(text: string): string[] {
  return text.split(SPACE_RUN).filter((word) => word.length > 0);
}

/** `text.rstrip()` in Python. */
export function pythonRstrip(text: string): string {
  return text.replace(TRAILING_SPACE, '');
}
