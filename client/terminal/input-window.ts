/**
 * What of the input line fits on one screen line: a window of the text around the cursor, cut
 * with `…`, measured in the columns characters take, so that the prompt's frame stays one line
 * high however long the input (a paste can be 64 KiB).
 */
import { styleText } from "node:util";

/**
 * The part of `text` to show in `width` columns with the cursor at `cursor` (a UTF-16 index, as
 * readline counts): all of it if it fits, otherwise a window around the cursor with `…` where text
 * is cut. The cursor is drawn as an inverse character, or a block at the end, as clack does.
 * Characters are measured one at a time, outwards from the cursor and no further than the window
 * reaches, so that drawing costs the same for a line of any length (a paste can be 64 KiB).
 */
export function inputWindow(text: string, cursor: number, width: number): string {
  const atEnd = cursor >= text.length;
  const at = atEnd ? "" : String.fromCodePoint(text.codePointAt(cursor)!);
  const afterCursor = cursor + at.length;
  const cursorGlyph = atEnd ? "█" : styleText("inverse", at);
  const room = width - Math.max(1, Bun.stringWidth(at));
  const allBefore = walk(text, cursor, -1, room);
  const allAfter = walk(text, afterCursor, 1, room);
  if (allBefore.to === 0 && allAfter.to === text.length && allBefore.columns + allAfter.columns <= room)
    return `${text.slice(0, cursor)}${cursorGlyph}${text.slice(afterCursor)}`;
  // Keep some text after the cursor in view, and as much as fits before it.
  const keepAfter = walk(text, afterCursor, 1, Math.floor(width / 4)).columns;
  const before = endBefore(text, cursor, room - keepAfter);
  return `${before.text}${cursorGlyph}${startAfter(text, afterCursor, room - before.columns)}`;
}

/** The start of `text` that fits in `width` columns, with `…` if cut. */
export function fitWidth(text: string, width: number): string {
  return startAfter(text, 0, width);
}

/** The text from `start` on that fits in `width` columns, with `…` if cut. */
function startAfter(text: string, start: number, width: number): string {
  if (walk(text, start, 1, width).to === text.length) return text.slice(start);
  return `${text.slice(start, walk(text, start, 1, width - 1).to)}…`;
}

/** The text before `end` that fits in `width` columns, with `…` if cut; and the columns it takes. */
function endBefore(text: string, end: number, width: number): { text: string; columns: number } {
  const whole = walk(text, end, -1, width);
  if (whole.to === 0) return { text: text.slice(0, end), columns: whole.columns };
  const shown = walk(text, end, -1, width - 1);
  return { text: `…${text.slice(shown.to, end)}`, columns: shown.columns + 1 };
}

/**
 * Steps through `text` from `from` to its end (`step` 1) or its start (-1), a whole character at a
 * time, while the characters fit in `width` columns: where it stopped, and the columns they take.
 */
function walk(text: string, from: number, step: 1 | -1, width: number): { to: number; columns: number } {
  const end = step > 0 ? text.length : 0;
  let at = from;
  let columns = 0;
  while (at !== end) {
    // A character outside the BMP is a surrogate pair, two UTF-16 units: they go together.
    const [first, second] = step > 0 ? [at, at + 1] : [at - 2, at - 1];
    const pair = isHighSurrogate(text.charCodeAt(first)) && isLowSurrogate(text.charCodeAt(second));
    const next = at + step * (pair ? 2 : 1);
    const charWidth = Bun.stringWidth(step > 0 ? text.slice(at, next) : text.slice(next, at));
    if (columns + charWidth > width) break;
    columns += charWidth;
    at = next;
  }
  return { to: at, columns };
}

const isHighSurrogate = (unit: number) => unit >= 0xd800 && unit <= 0xdbff;
const isLowSurrogate = (unit: number) => unit >= 0xdc00 && unit <= 0xdfff;
