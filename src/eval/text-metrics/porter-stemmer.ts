// The Porter stemmer (M. F. Porter, "An algorithm for suffix stripping", 1980) in the variant
// rouge-score uses: nltk's PorterStemmer in its default NLTK_EXTENSIONS mode, which adds Martin
// Porter's later changes (bli -> ble, logi -> log, words of one or two letters kept) and nltk's own
// (a table of irregular forms, 'ies' / 'ied' in four-letter words, y -> i only after a consonant,
// alli -> al first, fulli -> ful, a two-letter cvc). Words are lowercase ASCII here (rouge's
// tokenizer gives [a-z0-9]+); a digit counts as a consonant, as in nltk.

/** Irregular forms mapped straight to their stem (nltk's table). */
const IRREGULAR = new Map<string, string>([
  ['sky', 'sky'], ['skies', 'sky'], ['dying', 'die'], ['lying', 'lie'], ['tying', 'tie'], ['news', 'news'],
  ['innings', 'inning'], ['inning', 'inning'], ['outings', 'outing'], ['outing', 'outing'],
  ['cannings', 'canning'], ['canning', 'canning'], ['howe', 'howe'], ['proceed', 'proceed'],
  ['exceed', 'exceed'], ['succeed', 'succeed'],
]);

const VOWELS = new Set(['a', 'e', 'i', 'o', 'u']);

/** For each letter: is it a consonant? A y is one at the start or after a vowel, else a vowel. */
function consonants(word: string): boolean[] {
  const flags: boolean[] = [];
  for (let i = 0; i < word.length; i += 1) {
    const ch = word[i] as string;
    if (VOWELS.has(ch)) flags.push(false);
    else if (ch === 'y') flags.push(i === 0 ? true : !flags[i - 1]);
    else flags.push(true);
  }
  return flags;
}

function isConsonant(word: string, i: number): boolean {
  return consonants(word)[i] === true;
}

/** m in [C](VC)^m[V]: the number of vowel-to-consonant transitions. */
function measure(stem: string): number {
  const flags = consonants(stem);
  let m = 0;
  for (let i = 1; i < flags.length; i += 1) if (!flags[i - 1] && flags[i]) m += 1;
  return m;
}

const positiveMeasure = (stem: string): boolean => measure(stem) > 0;
const measureAboveOne = (stem: string): boolean => measure(stem) > 1;

function containsVowel(stem: string): boolean {
  return consonants(stem).some((c) => !c);
}

/** *d: ends with a doubled consonant. */
function endsDoubleConsonant(word: string): boolean {
  return word.length >= 2 && word.at(-1) === word.at(-2) && isConsonant(word, word.length - 1);
}

/** *o: ends consonant-vowel-consonant, the last not w, x or y (nltk: also a two-letter vowel-consonant word). */
function endsCvc(word: string): boolean {
  const n = word.length;
  if (n >= 3 && isConsonant(word, n - 3) && !isConsonant(word, n - 2) && isConsonant(word, n - 1) && !['w', 'x', 'y'].includes(word[n - 1] as string)) return true;
  return n === 2 && !isConsonant(word, 0) && isConsonant(word, 1);
}

interface Rule {
  suffix: string;
  replacement: string;
  condition?: (stem: string) => boolean;
}

/**
 * The first rule whose suffix the word ends with decides: its condition on the stem (the word
 * less the suffix) passes and the suffix is replaced, or it fails and the word is kept as is.
 */
function applyFirstRule(word: string, rules: readonly Rule[]): string {
  for (const { suffix, replacement, condition } of rules) {
    if (!word.endsWith(suffix)) continue;
    const stem = word.slice(0, word.length - suffix.length);
    return condition === undefined || condition(stem) ? stem + replacement : word;
  }
  return word;
}

function step1a(word: string): string {
  if (word.endsWith('ies') && word.length === 4) return `${word.slice(0, -3)}ie`;
  return applyFirstRule(word, [
    { suffix: 'sses', replacement: 'ss' },
    { suffix: 'ies', replacement: 'i' },
    { suffix: 'ss', replacement: 'ss' },
    { suffix: 's', replacement: '' },
  ]);
}

function step1b(word: string): string {
  if (word.endsWith('ied')) return word.slice(0, -3) + (word.length === 4 ? 'ie' : 'i');
  if (word.endsWith('eed')) {
    const stem = word.slice(0, -3);
    return measure(stem) > 0 ? `${stem}ee` : word;
  }
  let stem: string | undefined;
  for (const suffix of ['ed', 'ing']) {
    if (word.endsWith(suffix) && containsVowel(word.slice(0, -suffix.length))) {
      stem = word.slice(0, -suffix.length);
      break;
    }
  }
  if (stem === undefined) return word;
  // After -ed / -ing: restore the e of -ate / -ble / -ize, undouble a final consonant, or add an e to a short cvc stem.
  if (stem.endsWith('at') || stem.endsWith('bl') || stem.endsWith('iz')) return `${stem}e`;
  if (endsDoubleConsonant(stem)) return ['l', 's', 'z'].includes(stem.at(-1) as string) ? stem : stem.slice(0, -1);
  return measure(stem) === 1 && endsCvc(stem) ? `${stem}e` : stem;
}

function step1c(word: string): string {
  // nltk: y -> i after a consonant that is not the whole stem (happy -> happi, enjoy and by kept).
  return applyFirstRule(word, [{ suffix: 'y', replacement: 'i', condition: (stem) => stem.length > 1 && isConsonant(stem, stem.length - 1) }]);
}

const STEP2_RULES: readonly [string, string][] = [
  ['ational', 'ate'], ['tional', 'tion'], ['enci', 'ence'], ['anci', 'ance'], ['izer', 'ize'], ['bli', 'ble'],
  ['alli', 'al'], ['entli', 'ent'], ['eli', 'e'], ['ousli', 'ous'], ['ization', 'ize'], ['ation', 'ate'],
  ['ator', 'ate'], ['alism', 'al'], ['iveness', 'ive'], ['fulness', 'ful'], ['ousness', 'ous'], ['aliti', 'al'],
  ['iviti', 'ive'], ['biliti', 'ble'], ['fulli', 'ful'],
];

function step2(word: string): string {
  if (word.endsWith('alli') && positiveMeasure(word.slice(0, -4))) return step2(`${word.slice(0, -4)}al`);
  const rules: Rule[] = STEP2_RULES.map(([suffix, replacement]) => ({ suffix, replacement, condition: positiveMeasure }));
  // logi -> log measures the stem with its l, so short stems (geo-, theo-) qualify.
  rules.push({ suffix: 'logi', replacement: 'log', condition: () => positiveMeasure(word.slice(0, -3)) });
  return applyFirstRule(word, rules);
}

function step3(word: string): string {
  return applyFirstRule(word, [
    ['icate', 'ic'], ['ative', ''], ['alize', 'al'], ['iciti', 'ic'], ['ical', 'ic'], ['ful', ''], ['ness', ''],
  ].map(([suffix, replacement]) => ({ suffix: suffix as string, replacement: replacement as string, condition: positiveMeasure })));
}

function step4(word: string): string {
  const rules: Rule[] = ['al', 'ance', 'ence', 'er', 'ic', 'able', 'ible', 'ant', 'ement', 'ment', 'ent'].map((suffix) => ({ suffix, replacement: '', condition: measureAboveOne }));
  rules.push({ suffix: 'ion', replacement: '', condition: (stem) => measureAboveOne(stem) && ['s', 't'].includes(stem.at(-1) ?? '') });
  for (const suffix of ['ou', 'ism', 'ate', 'iti', 'ous', 'ive', 'ize']) rules.push({ suffix, replacement: '', condition: measureAboveOne });
  return applyFirstRule(word, rules);
}

function step5a(word: string): string {
  if (!word.endsWith('e')) return word;
  const stem = word.slice(0, -1);
  const m = measure(stem);
  return m > 1 || (m === 1 && !endsCvc(stem)) ? stem : word;
}

function step5b(word: string): string {
  // (m > 1 and *d and *L): controll -> control; the measure is taken with one l kept.
  return word.endsWith('ll') && measureAboveOne(word.slice(0, -1)) ? word.slice(0, -1) : word;
}

/** The stem of a lowercase word, as nltk's `PorterStemmer().stem(word)` gives it. */
export function porterStem(word: string): string {
  const irregular = IRREGULAR.get(word);
  if (irregular !== undefined) return irregular;
  if (word.length <= 2) return word;
  return step5b(step5a(step4(step3(step2(step1c(step1b(step1a(word))))))));
}
