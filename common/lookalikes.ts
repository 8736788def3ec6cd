/**
 * Names that look like other names. Two names that a person cannot tell apart on screen must not
 * both be given: `аlice` with a Cyrillic а, `alıce` with a dotless ı, `ａｌｉｃｅ` in fullwidth
 * letters all pass for `alice`. Three defences, after Unicode TS #39 (Security Mechanisms):
 * - names are NFKC-normalised (normalizeName), which folds fullwidth and mathematical letters;
 * - a name may use one script only (with the mixes a language needs: Japanese, Korean, Chinese);
 * - names are compared by their skeleton: lower case, with each letter that is easily mistaken
 *   for a Latin one (or a digit for a letter) replaced by it.
 *
 * The skeleton's table is the part of TS #39's confusables.txt that matters between Latin,
 * Greek and Cyrillic, and digits; it is not the whole table.
 */

/** Scripts whose letters may share a name, per TS #39's "highly restrictive" level. */
const ALLOWED_MIXES = [
  ["Han", "Hiragana", "Katakana"],
  ["Han", "Hangul"],
  ["Han", "Bopomofo"],
];

/** The scripts we tell apart; a letter of none of them counts as its own "Other" script. */
const SCRIPTS = [
  "Latin",
  "Greek",
  "Cyrillic",
  "Armenian",
  "Hebrew",
  "Arabic",
  "Syriac",
  "Thaana",
  "Devanagari",
  "Bengali",
  "Gurmukhi",
  "Gujarati",
  "Oriya",
  "Tamil",
  "Telugu",
  "Kannada",
  "Malayalam",
  "Sinhala",
  "Thai",
  "Lao",
  "Tibetan",
  "Myanmar",
  "Georgian",
  "Hangul",
  "Ethiopic",
  "Cherokee",
  "Khmer",
  "Mongolian",
  "Hiragana",
  "Katakana",
  "Bopomofo",
  "Han",
].map((name) => ({ name, pattern: new RegExp(`^\\p{Script=${name}}$`, "u") }));

/** The letters' scripts, in the order they first appear. Digits, marks and `_.-` have none. */
export function scriptsOf(name: string): string[] {
  const found = new Set<string>();
  for (const char of name) {
    if (!/\p{L}/u.test(char)) continue;
    found.add(SCRIPTS.find((script) => script.pattern.test(char))?.name ?? "Other");
  }
  return [...found];
}

/** Why `name` mixes scripts it should not, or undefined if it does not. */
export function mixedScriptProblem(name: string, what: string): string | undefined {
  const scripts = scriptsOf(name);
  if (scripts.length <= 1 || ALLOWED_MIXES.some((mix) => scripts.every((s) => mix.includes(s)))) return undefined;
  return `A ${what} cannot mix scripts (${scripts.join(" and ")} in '${name}'): letters from two scripts let one name pass for another.`;
}

/** Characters (after NFKC, before lower-casing) easily taken for another, and what they are taken for. */
const CONFUSABLE: Record<string, string> = {
  // Cyrillic
  а: "a",
  в: "b",
  е: "e",
  ё: "e",
  і: "i",
  ї: "i",
  ј: "j",
  к: "k",
  м: "m",
  н: "h",
  о: "o",
  п: "n",
  р: "p",
  с: "c",
  т: "t",
  у: "y",
  х: "x",
  ѕ: "s",
  ԁ: "d",
  һ: "h",
  ӏ: "l",
  ԛ: "q",
  ԝ: "w",
  ь: "b",
  // Greek
  α: "a",
  β: "b",
  γ: "y",
  ε: "e",
  η: "n",
  ι: "i",
  κ: "k",
  μ: "u",
  ν: "v",
  ο: "o",
  ρ: "p",
  τ: "t",
  υ: "u",
  χ: "x",
  ω: "w",
  ϲ: "c",
  ϳ: "j",
  ζ: "z",
  // Latin look-alikes of Latin letters
  ı: "i",
  ɩ: "i",
  ȷ: "j",
  ɡ: "g",
  ɑ: "a",
  ʏ: "y",
  ᴄ: "c",
  ᴏ: "o",
  ᴠ: "v",
  ᴡ: "w",
  ᴢ: "z",
  ſ: "f",
  ƚ: "l",
  // A capital I, a small l and a one are one stroke in many fonts; a zero is an o.
  I: "l",
  Ι: "l",
  І: "l",
  Ӏ: "l",
  "1": "l",
  "0": "o",
  // Separators people cannot tell apart at a glance
  _: "-",
  ".": "-",
};

/**
 * The form two names are compared in: two names with the same skeleton are the same name.
 * `Alice`, `аlice` (Cyrillic а), `alıce`, `AIice` (capital I) and `a1ice` all have the skeleton
 * `alice`.
 */
export function nameSkeleton(name: string): string {
  const normal = name.normalize("NFKC");
  // In a name of capitals only (ALICE), an I is an i; among small letters (AIice) it passes for an l.
  const capitalsOnly = normal === normal.toUpperCase();
  let skeleton = "";
  for (const char of normal) {
    const lower = char.toLowerCase();
    skeleton += (capitalsOnly ? undefined : CONFUSABLE[char]) ?? CONFUSABLE[lower] ?? lower;
  }
  // Marks stay (José is not Jose), but the same mark typed two ways is one.
  return skeleton.normalize("NFC");
}
