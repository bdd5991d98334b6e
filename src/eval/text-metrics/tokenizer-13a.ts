// The '13a' tokenizer of sacrebleu (mteval-v13a.pl, the WMT standard): HTML entities and
// line breaks are normalized, then ASCII punctuation and symbols become tokens of their own,
// except periods and commas inside numbers and dashes not after a digit. Tokens are returned
// joined by single spaces, as sacrebleu passes them on.
import { pythonSplit } from './python-text.js';

// The ASCII symbol ranges mteval separates: { | } ~, [ \ ] ^ _ `, space to &, ( to +, : to @, and /.
// Left alone: ' (apostrophes stay in words), - , . (handled by the rules below) and letters/digits.
const SYMBOL = /([\x7B-\x7E\x5B-\x60\x20-\x26\x28-\x2B\x3A-\x40\x2F])/gu;
const PERIOD_COMMA_AFTER_NON_DIGIT = /([^0-9])([.,])/gu;
const PERIOD_COMMA_BEFORE_NON_DIGIT = /([.,])([^0-9])/gu;
const DASH_AFTER_DIGIT = /([0-9])(-)/gu;

export function tokenize13a(line: string): string {
  let text = line.replaceAll('<skipped>', '').replaceAll('-\n', '').replaceAll('\n', ' ');
  if (text.includes('&')) {
    text = text.replaceAll('&quot;', '"').replaceAll('&amp;', '&').replaceAll('&lt;', '<').replaceAll('&gt;', '>');
  }
  // mteval pads the line with a space on each side, so a period at either end has a neighbour.
  text = ` ${text} `
    .replace(SYMBOL, ' $1 ')
    .replace(PERIOD_COMMA_AFTER_NON_DIGIT, '$1 $2 ')
    .replace(PERIOD_COMMA_BEFORE_NON_DIGIT, ' $1 $2')
    .replace(DASH_AFTER_DIGIT, '$1 $2 ');
  return pythonSplit(text).join(' ');
}
