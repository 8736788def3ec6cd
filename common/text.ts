/**
 * Text as the chat handles it, for the server, the terminal client and the page alike: the one
 * class of characters a terminal would act on, what is let through of a user's text, how names and
 * rooms are checked and coloured, and how people, counts and times of day are worded.
 */
import type { User } from "./events";
import { mixedScriptProblem } from "./lookalikes";

// ---------------------------------------------------------------------------------------------
// Control characters.

/**
 * Characters a terminal acts on instead of showing, or that reorder what is read: C0 and C1
 * controls (newline and tab among them), DEL, and the bidi overrides and isolates (U+202A–U+202E,
 * U+2066–U+2069). Each use below decides which of them, if any, it keeps.
 */
const CONTROL_CLASS = "\\x00-\\x1f\\x7f-\\x9f\\u202a-\\u202e\\u2066-\\u2069";
const CONTROL = new RegExp(`[${CONTROL_CLASS}]`, "g");
/** What cleanText may change: a control character, a line separator, or any surrogate (the pair of an emoji, or a lone one). */
const NEEDS_CLEANING = new RegExp(
  `[${CONTROL_CLASS}\\u2028\\u2029\\ud800-\\udfff\\u00ad\\u061c\\u200b-\\u200f\\u2060-\\u2064\\ufeff]`,
);
/**
 * Format characters whose only use in a chat is to hide: zero-width space, word joiner and the
 * invisible operators, the byte-order mark, the soft hyphen, the bidi marks (LRM, RLM, ALM), and
 * tag characters. Two are kept where writing needs them: a zero-width non-joiner between letters
 * (Persian, Indic scripts) and a zero-width joiner inside an emoji sequence (👩‍💻); tag
 * characters only in a subdivision flag (🏴 + tags + cancel tag, the flag of Scotland).
 */
const HIDING =
  /\u{1F3F4}[\u{E0020}-\u{E007E}]+\u{E007F}|[\u{E0000}-\u{E007F}\u00ad\u061c\u200b\u200e\u200f\u2060-\u2064\ufeff]|(?<!\p{L}\p{M}*)\u200c|\u200c(?!\p{L})|(?<!\p{Extended_Pictographic}[\ufe0f\u{1F3FB}-\u{1F3FF}]?)\u200d|\u200d(?!\p{Extended_Pictographic})/gu;
/**
 * Everything that ends a line somewhere: CR LF, CR, NEL (U+0085), and the line and paragraph
 * separators (U+2028, U+2029), which some renderers break on. Each becomes one LF, so that every
 * renderer sees the same lines and marks the same continuation lines.
 */
const LINE_BREAK = /\r\n?|[\x85\u2028\u2029]/g;

/**
 * Terminal control sequences, whole: CSI (`ESC [` or 8-bit 0x9B, e.g. `ESC[2J` clears the
 * screen), OSC (`ESC ]` or 0x9D, up to BEL or ST; e.g. OSC 0 sets the title, OSC 52 writes the
 * clipboard), DCS/SOS/PM/APC strings, and two-byte escapes. Removed whole, so that no half of
 * one (`[2J`) is left behind.
 */
const CONTROL_SEQUENCE =
  /(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]|(?:\x1b[\]PX^_]|[\x9d\x90\x98\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?|\x1b[ -~]?/g;

/** True if `text` has any control character (a newline counts). */
export function hasControls(text: string): boolean {
  // search() ignores a /g regex's lastIndex, which test() would not.
  return text.search(CONTROL) !== -1;
}

/**
 * What the server lets through of a user's text: well-formed Unicode (a lone surrogate becomes
 * U+FFFD), no escape sequences, no control characters, no bidi overrides, so nobody can clear
 * others' screens, set their titles, write to their clipboards, or reorder what they read.
 * Newlines stay (every kind of line break becomes LF); a tab becomes a space; format characters
 * that only hide (HIDING) go.
 */
export function cleanText(given: string): string {
  // Most messages have nothing to change: one scan for that costs a quarter of the replacements.
  if (given.search(NEEDS_CLEANING) === -1) return given;
  // A lone surrogate would be sent as U+FFFD by one path and refused by another (Redis' JSON):
  // made well-formed first, everyone gets the same text.
  const text = given.toWellFormed();
  return text
    .replace(LINE_BREAK, "\n")
    .replace(/\t/g, " ")
    .replace(CONTROL_SEQUENCE, "")
    .replace(CONTROL, (c) => (c === "\n" ? c : ""))
    .replace(HIDING, (found) => (found.startsWith("\u{1F3F4}") ? found : ""));
}

/**
 * A server-written text that may quote what a user sent (an error naming a refused name or
 * command), with every control character shown escaped: `\u001b`.
 */
export function escapeControls(text: string): string {
  return text.replace(CONTROL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/**
 * Text from the server on its way to a terminal: control characters could drive it (clear it,
 * move the cursor, set its title), so they show as U+FFFD. Line breaks of every kind become
 * newlines, kept with tabs.
 */
export function forTerminal(text: string): string {
  if (!hasControls(text) && !/[\u2028\u2029]/.test(text)) return text;
  return text.replace(LINE_BREAK, "\n").replace(CONTROL, (c) => (c === "\n" || c === "\t" ? c : "\uFFFD"));
}

/** Text from the server that must stay one line (a name, a room, a close reason): no control at all. */
export function oneLine(text: string): string {
  if (!hasControls(text) && !/[\u2028\u2029]/.test(text)) return text;
  return text.replace(/[\u2028\u2029]/g, "\uFFFD").replace(CONTROL, "\uFFFD");
}

/** The fields that may hold several lines: what people say, notices, errors, help. */
const MULTILINE_FIELDS = new Set(["text", "message", "help"]);

/**
 * An event from a server, every string of it made safe to show on a terminal: a hostile or broken
 * server could otherwise clear the screen or set the title through a name, a room, a help entry.
 * Multi-line fields keep their newlines (every kind of line break becomes one); the rest are one
 * line. Clients apply it to every event before anything shows it.
 */
export function screenSafe<T>(value: T, field = ""): T {
  if (typeof value === "string") return (MULTILINE_FIELDS.has(field) ? forTerminal(value) : oneLine(value)) as T;
  if (Array.isArray(value)) return value.map((item) => screenSafe(item, field)) as T;
  if (typeof value === "object" && value !== null)
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, screenSafe(item, key)])) as T;
  return value;
}

/** Text for a log line: one line, every control character escaped (a newline as `\n`). */
export function forLog(text: string): string {
  if (!hasControls(text)) return text;
  return text.replace(CONTROL, (c) => (c === "\n" ? "\\n" : `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`));
}

// ---------------------------------------------------------------------------------------------
// Names and rooms.

/** Letters of any script (each with its combining marks), digits, and `_`, `.`, `-`. */
const NAME_PATTERN = /^(?:[\p{L}\p{Nd}_.-]\p{M}{0,3})+$/u;
/**
 * A name's length in UTF-16 units, marks included, past which it is refused before anything else
 * reads it: 32 characters of up to three marks each fit well within it. Without it, a name of 32
 * letters and a hundred thousand marks would cost every look-up of its skeleton milliseconds.
 */
const MAX_NAME_UNITS = 160;
/** Letters that show as nothing (U+3164 HANGUL FILLER and its kin): a name of them looks blank. */
const INVISIBLE = /[\p{Default_Ignorable_Code_Point}\u3164\u115f\u1160\uffa0]/u;

/**
 * Names and rooms are compared in NFKC: é typed two ways is one name, and fullwidth or
 * mathematical letters (ａｌｉｃｅ, 𝐚𝐥𝐢𝐜𝐞) are the plain letters they stand for.
 */
export function normalizeName(name: string): string {
  return name.trim().normalize("NFKC");
}

/** Why `name` cannot be a name (or room, per `what`), or undefined if it can. */
export function nameProblem(name: string, what: "name" | "room" = "name"): string | undefined {
  if (name.length > MAX_NAME_UNITS) return `A ${what} can be at most 32 characters; that one is far longer.`;
  const length = Array.from(name.replace(/\p{M}/gu, "")).length;
  if (length === 0) return `A ${what} cannot be empty.`;
  if (length > 32) return `A ${what} can be at most 32 characters; '${name.slice(0, 40)}' has ${length}.`;
  if (INVISIBLE.test(name)) return `A ${what} cannot have characters that show as nothing.`;
  if (!NAME_PATTERN.test(name))
    return `A ${what} can only have letters, digits, '_', '-' and '.'; '${name}' has other characters.`;
  return smallLAmongCapitals(name, what) ?? mixedScriptProblem(name, what);
}

/**
 * A small l among capitals reads as a capital I (`ALlCE` as ALICE, `ADMlN` as ADMIN), and the
 * look-alike skeleton, which takes a name of mixed case as mixed, cannot see it: such a name is
 * refused, to be written in capitals or in small letters.
 */
function smallLAmongCapitals(name: string, what: string): string | undefined {
  const small = name.match(/\p{Ll}/gu) ?? [];
  if (small.length === 0 || small.some((letter) => letter !== "l")) return undefined;
  if ((name.match(/\p{Lu}/gu) ?? []).length < 2) return undefined;
  return `A small l among capitals reads as a capital I: write the ${what} '${name}' all in capitals or all in small letters.`;
}

/** A number for a name, the same in every client and for every case of it (FNV-1a). */
export function nameHash(name: string): number {
  let hash = 2166136261;
  for (const char of name.toLowerCase()) hash = Math.imul(hash ^ char.codePointAt(0)!, 16777619);
  return hash >>> 0;
}

/** How many colours names are shown in: the terminal's palette and the page's both have this many. */
export const NAME_COLOURS = 12;

/**
 * Which of the NAME_COLOURS a name is shown in, by its hash: the same index in every terminal and
 * every page, for every case of the name. Each client maps it to a palette of its own (ANSI colours,
 * CSS classes), ordered alike. One refinement on the page: a name whose colour another name on that
 * page already has takes the next free one (web/log.ts), so that the first twelve people there all
 * differ; of two names that collide, the later one may be another colour on the page than in the
 * terminal.
 */
export function nameColour(name: string): number {
  return nameHash(name) % NAME_COLOURS;
}

// ---------------------------------------------------------------------------------------------
// Wording.

/**
 * `alice (127.0.0.1:54321)`, or just the address for someone without a name; a bot (the HTTP API)
 * is marked, `ci [bot] (127.0.0.1:5555)`, so that no key's name passes for a person's.
 */
export function describeUser(user: User): string {
  return user.name ? `${user.name}${user.bot ? " [bot]" : ""} (${user.address})` : user.address;
}

/**
 * What the terminal and the page show after a name in a list of people: `✓` for a registered
 * name its owner is logged in to (nobody else can take it), `×2` for one person on two connections.
 */
export function personMarks(user: User & { registered?: true; connections?: number }): {
  registered: string;
  connections: string;
} {
  return {
    registered: user.registered ? "✓" : "",
    connections: user.connections && user.connections > 1 ? `×${user.connections}` : "",
  };
}

/**
 * Someone who joins and leaves again within this long, with nothing shown between (a client that
 * only looked in, a reconnect that did not last), is one line in the clients, not two.
 */
export const CAME_AND_WENT_MS = 15_000;

/** That one line, built from who it was (never from the wording of the notices). */
export function cameAndWentLine(user: User): string {
  return `${describeUser(user)} came and went`;
}

/** The local time of day a line shows, 24-hour: "09:05"; now if no time is given. */
export function clockTime(time: string | Date = new Date()): string {
  const date = new Date(time);
  return `${String(date.getHours()).padStart(2, "0")}:${String(date.getMinutes()).padStart(2, "0")}`;
}

/** `1 message`, `2 messages`; `plural(1, "message was", "messages were")`. */
export function plural(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
}

/** "1 message was not sent", "3 messages were missed": the sentence start both clients use. */
export function messagesWere(count: number): string {
  return plural(count, "message was", "messages were");
}
