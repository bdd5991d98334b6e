// rouge-score's default tokenizer (after Chin-Yew Lin's ROUGE-1.5.5): lowercase, every run of
// characters other than ASCII letters and digits is a break, so punctuation and non-ASCII
// letters vanish ("café" -> "caf"); with the stemmer, words longer than 3 letters are stemmed.
import { porterStem } from './porter-stemmer.js';

const NON_ALPHANUMERIC = /[^a-z0-9]+/gu;
const VALID_TOKEN = /^[a-z0-9]+$/;

export function rougeTokens(text: string, useStemmer: boolean): string[] {
  const words = text.toLowerCase().replace(NON_ALPHANUMERIC, ' ').split(' ');
  const stemmed = useStemmer ? words.map((w) => (w.length > 3 ? porterStem(w) : w)) : words;
  return stemmed.filter((w) => VALID_TOKEN.test(w));
}
