/** The input line's sideways scrolling, which keeps the prompt's frame one screen line high. */
import { describe, expect, test } from "bun:test";
import { styleText } from "node:util";
import { fitWidth, inputWindow } from "../../client/input-line";

const cursorOn = (char: string) => styleText("inverse", char);

describe("inputWindow", () => {
  test("text that fits is shown whole, with the cursor as a block at the end or on its character", () => {
    expect(inputWindow("hello", 5, 20)).toBe("hello█");
    expect(inputWindow("hello", 1, 20)).toBe(`h${cursorOn("e")}llo`);
    expect(inputWindow("", 0, 20)).toBe("█");
  });

  test("long text at its end shows the end, cut with … on the left", () => {
    expect(inputWindow("0123456789".repeat(3), 30, 12)).toBe("…0123456789█");
  });

  test("with the cursor in the middle of long text, both sides are cut and the cursor stays in view", () => {
    // A quarter of the width is kept for the text after the cursor.
    expect(inputWindow("abcdefghijklmnopqrstuvwxyz", 13, 10)).toBe(`…hijklm${cursorOn("n")}o…`);
  });

  test("wide characters are measured by the columns they take", () => {
    const text = "漢字".repeat(10); // 20 characters, 40 columns
    expect(inputWindow(text, text.length, 11)).toBe("…漢字漢字█");
  });

  test("a character outside the BMP under the cursor is kept whole", () => {
    expect(inputWindow("a😀b", 1, 20)).toBe(`a${cursorOn("😀")}b`);
  });
});

describe("fitWidth", () => {
  test("cuts on the right with … only when needed", () => {
    expect(fitWidth("short", 10)).toBe("short");
    expect(fitWidth("much too long", 8)).toBe("much to…");
    expect(Bun.stringWidth(fitWidth("漢字漢字漢字", 7))).toBeLessThanOrEqual(7);
  });
});
