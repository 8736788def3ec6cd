/**
 * Names that look like other names. Two names that a person cannot tell apart on screen must not
 * both be given: `аlice` with a Cyrillic а, `alıce` with a dotless ı, `ａｌｉｃｅ` in fullwidth
 * letters, `ali̇ce` with a second dot on its i all pass for `alice`. Three defences, after Unicode
 * TS #39 (Security Mechanisms):
 * - names are NFKC-normalised (normalizeName), which folds fullwidth and mathematical letters;
 * - a name may use one script only (with the mixes a language needs: Japanese, Korean, Chinese);
 * - names are compared by their skeleton: lower case, in NFD, each character replaced by the one
 *   it is easily taken for (Unicode's whole confusables table, confusables.generated.ts), and
 *   without the marks that leave a letter as it was.
 *
 * Which marks count. TS #39's skeleton keeps marks, and so does this one: é, ü, ñ are other
 * letters than e, u, n to those who write them, so José is not Jose (the table agrees: it maps no
 * accent away). But TS #39 §5.4 warns of a base letter with a mark that looks like the letter
 * alone, its example i + U+0307 COMBINING DOT ABOVE, and the table has no answer to that: it maps
 * no mark to nothing, only marks to marks (U+0337 → U+0338) and letters with a stroke to their
 * letter with an overlay (ø → o + U+0338). So the skeleton drops, as §5.4 advises:
 * - a dot above a letter that has a dot already (i, j and the other Soft_Dotted letters);
 * - decorations: overlays (a stroke, slash or ring through the letter), a line under it, and
 *   enclosing marks (a circle or box around it). No language writes its letters so; they only
 *   strike, underline or frame a letter a reader still reads as itself. The one exception is a
 *   decoration that makes a letter of the table's: ø is o̸ there, ł is l̸, đ is d̵, so `bjo̸rn`
 *   typed with U+0338 stays `bjørn`, not `bjorn`, while `a̸lice` is `alice`;
 * - a mark repeated at once (é́), which §5.4 would forbid: the second often prints over the first.
 */
import { CONFUSABLE_PROTOTYPES } from "./confusables.generated";

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

/**
 * Ours on top of Unicode's, from this file's earlier table: small letters that pass for a Latin
 * one where Unicode's table maps them to a small capital or another script's letter (в → ʙ,
 * н → ʜ, т → ᴛ, к → ĸ, п → π) or not at all (μ, ω, χ, ζ). Names are compared without case, and
 * В, Н, Т, К, М are Latin capitals to the eye. And `_`, `.` and `-` are one separator.
 */
const LOOKS_LATIN: Record<string, string> = {
  в: "b",
  к: "k",
  м: "m",
  н: "h",
  п: "n",
  т: "t",
  ь: "b",
  β: "b",
  ε: "e",
  η: "n",
  κ: "k",
  μ: "u",
  τ: "t",
  χ: "x",
  ω: "w",
  ζ: "z",
  ȷ: "j",
  _: "-",
  ".": "-",
};

/**
 * Small capitals, which Unicode's table gives as what some letters pass for (Cherokee's small
 * letters, whose capitals are Latin capitals to the eye: ꮟ → ʙ, ꭺ → ᴀ) and which are letters of
 * their own there. Names are compared without case, so a small capital is its letter: `ᏴᎾᏴ` and
 * `ᎪᏞᎬX` pass for BOB and ALEX. (ɪ is left to the table: a small capital I passes for an l too; ĸ, kra, is one.)
 */
const SMALL_CAPITALS: Record<string, string> = {
  ᴀ: "a",
  ʙ: "b",
  ᴄ: "c",
  ᴅ: "d",
  ᴇ: "e",
  ꜰ: "f",
  ɢ: "g",
  ʜ: "h",
  ᴊ: "j",
  ᴋ: "k",
  ĸ: "k", // kra, a small capital K to the eye
  ʟ: "l",
  ᴍ: "m",
  ɴ: "n",
  ᴏ: "o",
  ᴘ: "p",
  ʀ: "r",
  ꜱ: "s",
  ᴛ: "t",
  ᴜ: "u",
  ᴠ: "v",
  ᴡ: "w",
  ʏ: "y",
  ᴢ: "z",
};

/** Marks that strike through, underline or frame a letter: overlays, low lines, enclosing marks. */
const DECORATIONS = /[\u0332-\u0338\u20D2\u20D3\u20D8-\u20DA\u20E5\u20E6\u20EA\u20EB\p{Me}]/gu;
/** A letter with its marks, as the skeleton holds it (NFD). */
const LETTER_AND_MARKS = /(\P{M})(\p{M}+)/gu;

/** The skeleton's tables, made on the first comparison: a page that only checks names never needs them. */
interface SkeletonTables {
  /** Each character of a name that is easily taken for another, and the skeleton it is taken for. */
  prototype: Map<string, string>;
  /** The table's letters with a decoration (o̸ for ø, l̸ for ł, d̵ for đ): that decoration makes a letter. */
  decoratedLetters: Set<string>;
}
let tables: SkeletonTables | undefined;

function skeletonTables(): SkeletonTables {
  if (tables) return tables;
  const prototype = new Map<string, string>();
  for (const entry of CONFUSABLE_PROTOTYPES.join(" ").split(" ")) {
    const [source, target] = entry.split(":").map((hex) => String.fromCodePoint(...hex.split(",").map(fromHex)));
    prototype.set(source!, target!);
  }
  for (const [letter, latin] of Object.entries(LOOKS_LATIN)) prototype.set(letter, prototype.get(latin) ?? latin);
  const smallCapital = (char: string) => SMALL_CAPITALS[char] ?? char;
  for (const [source, target] of prototype) prototype.set(source, [...target].map(smallCapital).join(""));
  for (const [letter, latin] of Object.entries(SMALL_CAPITALS)) prototype.set(letter, latin);
  const decoratedLetters = new Set<string>();
  for (const target of prototype.values())
    for (const [, letter, marks] of target.matchAll(LETTER_AND_MARKS)) {
      const decorations = marks!.match(DECORATIONS)?.join("");
      if (decorations) decoratedLetters.add(letter + decorations);
    }
  return (tables = { prototype, decoratedLetters });
}

function fromHex(hex: string): number {
  return Number.parseInt(hex, 16);
}

/** `skeleton` without the marks that leave a letter as it was (see the file's comment). */
function withoutIdleMarks(skeleton: string, decoratedLetters: Set<string>): string {
  return skeleton
    .replace(LETTER_AND_MARKS, (cluster, letter: string, marks: string) => {
      const decorations = marks.match(DECORATIONS)?.join("");
      if (!decorations || decoratedLetters.has(letter + decorations)) return cluster;
      return letter + marks.replace(DECORATIONS, "");
    })
    .replace(/(\p{M})\1+/gu, "$1")
    .replace(/(\p{Soft_Dotted})\u0307/gu, "$1");
}

/**
 * The form two names are compared in: two names with the same skeleton are the same name.
 * `Alice`, `аlice` (Cyrillic а), `alıce`, `AIice` (capital I), `a1ice` and `ali̇ce` (a dot on the
 * dot) all have the skeleton `alice`. A capital in a name of mixed case is taken for what it
 * passes for there (AIice's I for an l); in a name of capitals only, for its small letter.
 */
export function nameSkeleton(name: string): string {
  const { prototype, decoratedLetters } = skeletonTables();
  const normal = name.normalize("NFKC");
  const capitalsOnly = normal === normal.toUpperCase();
  let skeleton = "";
  for (const char of normal.normalize("NFD")) {
    const lower = char.toLowerCase();
    skeleton += (capitalsOnly ? undefined : prototype.get(char)) ?? prototype.get(lower) ?? lower;
  }
  // The table's prototypes are in NFD; together, their marks may need putting in order again.
  return withoutIdleMarks(skeleton.normalize("NFD"), decoratedLetters);
}
