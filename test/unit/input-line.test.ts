/**
 * The input line's sideways scrolling, which keeps the prompt's frame one screen line high, and its
 * keyboard, which takes bracketed pastes out of stdin whole.
 */
import { describe, expect, test } from "bun:test";
import { styleText } from "node:util";
import { fitWidth, inputWindow } from "../../client/terminal/input-window";
import { Keyboard } from "../../client/terminal/keyboard";

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

  test("characters outside the BMP are cut whole on either side of the cursor", () => {
    const text = "😀".repeat(50);
    expect(inputWindow(text, 50, 12)).toBe(`…😀😀😀${cursorOn("😀")}😀…`);
  });

  test("a line of 100,000 characters shows the window around the cursor", () => {
    const text = `${"a".repeat(50_000)}MIDDLE${"b".repeat(50_000)}`;
    expect(inputWindow(text, text.length, 12)).toBe("…bbbbbbbbbb█");
    expect(inputWindow(text, 0, 12)).toBe(`${cursorOn("a")}aaaaaaaaaa…`);
    expect(inputWindow(text, 50_003, 12)).toBe(`…aaaaMID${cursorOn("D")}LE…`);
  });
});

describe("fitWidth", () => {
  test("cuts on the right with … only when needed", () => {
    expect(fitWidth("short", 10)).toBe("short");
    expect(fitWidth("much too long", 8)).toBe("much to…");
    expect(Bun.stringWidth(fitWidth("漢字漢字漢字", 7))).toBeLessThanOrEqual(7);
  });
});

describe("Keyboard", () => {
  const START = "\x1b[200~";
  const END = "\x1b[201~";

  /** Writes `reads` to a Keyboard one after another: what it passes on to readline, and the pastes it keeps. */
  async function through(...reads: (string | Uint8Array)[]): Promise<{ keys: string; pastes: string[] }> {
    const keyboard = new Keyboard(process.stdin); // never attached: the test writes to it
    let keys = "";
    keyboard.on("data", (chunk: Buffer) => (keys += chunk.toString()));
    for (const read of reads) keyboard.write(read);
    await Bun.sleep(60); // past the wait for the rest of a mark
    const pastes: string[] = [];
    for (let paste = keyboard.takePaste(); paste !== undefined; paste = keyboard.takePaste()) pastes.push(paste);
    return { keys, pastes };
  }

  test("a paste is kept whole; readline sees its marks, in order with the keys around it", async () => {
    expect(await through(`ab${START}one\rtwo${END}cd`)).toEqual({ keys: `ab${START}${END}cd`, pastes: ["one\rtwo"] });
  });

  test("marks cut between reads are found, and pastes come out in order", async () => {
    const reads = ["a\x1b[20", "0~fir", `st${END.slice(0, 3)}`, `${END.slice(3)}b\x1b`, `[200~second${END}`];
    expect(await through(...reads)).toEqual({ keys: `a${START}${END}b${START}${END}`, pastes: ["first", "second"] });
  });

  test("a character cut between reads is put back together", async () => {
    const bytes = new TextEncoder().encode(`${START}é😀${END}`);
    expect((await through(bytes.slice(0, 7), bytes.slice(7, 10), bytes.slice(10))).pastes).toEqual(["é😀"]);
  });

  test("a lone Escape, which could be the start of a mark, is passed on after a moment", async () => {
    expect(await through("x\x1b")).toEqual({ keys: "x\x1b", pastes: [] });
  });

  test("a paste of 70,000 characters in many reads is one paste, and Ctrl-C after it is passed on", async () => {
    const text = "word ".repeat(14_000);
    const stream = `${START}${text}${END}\x03`;
    const reads = Array.from({ length: Math.ceil(stream.length / 4096) }, (_, i) =>
      stream.slice(i * 4096, (i + 1) * 4096),
    );
    expect(await through(...reads)).toEqual({ keys: `${START}${END}\x03`, pastes: [text] });
  });
});
