/**
 * The line the user types into, at the bottom of the terminal client. Messages that arrive while
 * the user is typing are printed above it; the half-typed text and the cursor stay where they were.
 *
 * It is @clack/core's TextPrompt (the prompt behind @clack/prompts' `text()`), kept open for the
 * whole session: Enter hands the line over and clears it instead of ending the prompt. Printing
 * above works like wscat's `print()`: move to the top of the prompt's frame, erase it, write the
 * message, and draw the same frame again, so clack's own idea of the screen stays true.
 */

import type { Interface } from "node:readline";
import { styleText } from "node:util";
import { settings, TextPrompt } from "@clack/core";
import { Recall } from "./recall";

export interface InputLineOptions {
  /** Shown on the prompt's first line. */
  title: string;
  /** Shown dimmed under the input. */
  hint: string;
  /** Receives each line the user enters with Enter; blank lines are not passed on. */
  onLine: (line: string) => void;
}

// clack cancels a prompt on Escape. In a chat a stray Escape (or the start of an arrow key's
// sequence on a slow link) must not throw the user out; Ctrl-C, Ctrl-D and /quit leave.
settings.aliases.delete("escape");

const ERASE_TO_END_OF_SCREEN = "\x1b[J";
const cursorUp = (lines: number) => (lines > 0 ? `\x1b[${lines}A` : "");
/** After clack draws a frame the cursor rests on the line below it (at some column). */
const frameHeight = (frame: string) => frame.split("\n").length - 1;

const BRACKETED_PASTE_ON = "\x1b[?2004h";
const BRACKETED_PASTE_OFF = "\x1b[?2004l";

/** The gutter and the two spaces after it. */
const GUTTER_WIDTH = 3;
/** A line too long for the screen goes on under its text, past the time (`00:00  `). */
const WRAP_INDENT = " ".repeat(7);

export class InputLine extends TextPrompt {
  readonly #stop: AbortController;
  readonly #output: NodeJS.WriteStream;
  #title: string;
  readonly #hint: string;
  readonly #recall = new Recall();
  /** How many times print() was called: a caller can tell whether anything was printed since. */
  printed = 0;
  #lastPrinted = { lines: 0, count: 0 };
  /** The lines of a paste under way (between the terminal's paste-start and paste-end). */
  #pasting: string[] | undefined;
  /** A pasted block of several lines, waiting for Enter to go as one message. */
  #block: string | undefined;

  constructor({ title, hint, onLine }: InputLineOptions, output: NodeJS.WriteStream = process.stdout) {
    const stop = new AbortController();
    super({
      output,
      signal: stop.signal,
      render(this: InputLine) {
        return this.frame();
      },
    });
    this.#stop = stop;
    this.#output = output;
    this.#title = title;
    this.#hint = hint;

    this.on("key", (_char, key) => {
      if (this.#paste(key.name, onLine)) return;
      if (key.name === "up" || key.name === "down") {
        const recalled = key.name === "up" ? this.#recall.older(this.userInput) : this.#recall.newer();
        if (recalled !== undefined) this.#replaceInput(recalled);
      } else if (key.name === "return") {
        // readline has already taken the line and cleared its own copy; clear ours to match.
        const line = this.userInput;
        this._setUserInput("");
        this._cursor = 0;
        // Recalling is ours (recall.ts): readline's own history would search by the half-typed
        // prefix and blank the line past the oldest.
        this.#readline()?.history.splice(0);
        if (line.trim() !== "") this.#recall.add(line);
        // Hand the line over once clack has drawn the cleared input, so that whatever onLine
        // does to the screen (even ending the prompt) comes after that drawing, not under it.
        if (line.trim() !== "") queueMicrotask(() => onLine(line));
      } else if (key.ctrl && key.name === "d" && this.userInput === "") {
        this.state = "cancel"; // Ctrl-D on an empty line ends input, as in a shell.
      } else if (!["left", "right", "home", "end"].includes(key.name ?? "")) {
        this.#recall.edited();
      }
    });
    // clack ends a prompt with a newline; take it back so what follows starts where the frame was.
    this.on("cancel", () => this.#output.write(`${cursorUp(1)}${ERASE_TO_END_OF_SCREEN}`));
  }

  /**
   * A paste of several lines (the terminal marks it, in bracketed paste mode) is not sent a line at
   * a time: it is held as one block, shown in the input, that Enter sends as one message and Esc
   * drops. True if `key` was taken for that.
   */
  #paste(key: string | undefined, onLine: (line: string) => void): boolean {
    if (key === "paste-start") {
      this.#pasting = [];
      return true;
    }
    if (key === "paste-end" && this.#pasting) {
      const lines = [...this.#pasting, this.userInput];
      this.#pasting = undefined;
      if (lines.length === 1) return true; // one line: it is in the input, as if typed
      if (lines.at(-1) === "") lines.pop();
      this.#clearInput();
      this.#block = [this.#block, ...lines].filter((part) => part !== undefined).join("\n");
      return true;
    }
    if (key === "return" && this.#pasting) {
      this.#pasting.push(this.userInput);
      this.#clearInput();
      return true;
    }
    if (key === "return" && this.#block !== undefined) {
      const text = this.userInput === "" ? this.#block : `${this.#block}\n${this.userInput}`;
      this.#block = undefined;
      this.#clearInput();
      queueMicrotask(() => onLine(text));
      return true;
    }
    if (key === "escape" && this.#block !== undefined) {
      this.#block = undefined;
      return true;
    }
    return false;
  }

  #clearInput(): void {
    this.#readline()?.history.splice(0);
    this._setUserInput("");
    this._cursor = 0;
  }

  /** Puts `text` in the input, the cursor at its end, in readline's copy and ours. */
  #replaceInput(text: string): void {
    const rl = this.#readline();
    rl?.write(null, { ctrl: true, name: "e" });
    rl?.write(null, { ctrl: true, name: "u" });
    this._setUserInput(text, true);
    this._cursor = text.length;
  }

  /** clack's readline interface, private in its types. */
  #readline(): (Interface & { history: string[] }) | undefined {
    return (this as unknown as { rl?: Interface & { history: string[] } }).rl;
  }

  /** Enter sends a message; the prompt itself never "submits". */
  protected override _shouldSubmit(): boolean {
    return false;
  }

  /** Waits until the user leaves (Ctrl-C, Ctrl-D) or `end()` is called; the frame is gone then. */
  async run(): Promise<void> {
    // Bracketed paste (xterm's mode 2004): the terminal marks the start and end of a paste.
    this.#output.write(BRACKETED_PASTE_ON);
    try {
      await this.prompt();
    } finally {
      this.#output.write(BRACKETED_PASTE_OFF);
    }
  }

  /** Ends the prompt from outside, e.g. on /quit or when the connection is lost. */
  end(): void {
    // clack does not redraw a prompt it is told to abort, so erase the frame here.
    if (this.#isOnScreen()) this.#output.write(`\r${cursorUp(frameHeight(this.frame()))}${ERASE_TO_END_OF_SCREEN}`);
    this.#stop.abort();
  }

  #isOnScreen(): boolean {
    return this.state === "active" || this.state === "error";
  }

  /**
   * Prints `text` (which may span lines) above the input line, keeping what the user typed. Each
   * line starts with `gutter`, clack's grey bar unless told otherwise.
   */
  print(text: string, gutter = styleText("gray", "│")): void {
    // Lines are wrapped here, at word boundaries, rather than by the terminal at its edge: each
    // piece then keeps the gutter, and a wrapped piece starts under the text, not at the time.
    const width = Math.max(20, (this.#output.columns || 80) - GUTTER_WIDTH);
    const lines = text.split("\n").flatMap((line) => {
      if (Bun.stringWidth(line) <= width) return [line];
      const [first = "", ...rest] = Bun.wrapAnsi(line, width - WRAP_INDENT.length, { hard: true }).split("\n");
      return [first, ...rest.map((piece) => WRAP_INDENT + piece)];
    });
    this.#redraw(lines.map((line) => `${gutter}  ${line}\n`).join(""));
    this.#lastPrinted = { lines: lines.length, count: ++this.printed };
  }

  /**
   * Rewrites the last thing printed, if it was one line and it is still right above the frame;
   * otherwise prints `text` as new. For "came and went" in place of a join line.
   */
  replaceLast(text: string, gutter = styleText("gray", "│")): void {
    const fits = Bun.stringWidth(text) <= (this.#output.columns || 80) - GUTTER_WIDTH;
    if (!this.#isOnScreen() || this.#lastPrinted.lines !== 1 || !fits) return this.print(text, gutter);
    const frame = this.frame();
    this.#output.write(`\r${cursorUp(frameHeight(frame) + 1)}${ERASE_TO_END_OF_SCREEN}${gutter}  ${text}\n${frame}`);
  }

  /** Changes the prompt's first line, e.g. when the user's name or room changes. */
  retitle(title: string): void {
    if (title === this.#title) return;
    this.#title = title;
    this.#redraw("");
  }

  /**
   * Erases the frame, writes `above` where it was, and draws the frame again below. The frame's
   * height never changes (its lines never wrap), so the new frame's height is the old one's. If
   * only the title changed, clack's next draw rewrites that line with the same text: harmless.
   */
  #redraw(above: string): void {
    if (!this.#isOnScreen()) {
      this.#output.write(above);
      return;
    }
    const frame = this.frame();
    this.#output.write(`\r${cursorUp(frameHeight(frame))}${ERASE_TO_END_OF_SCREEN}${above}${frame}`);
  }

  /**
   * The prompt's frame. Every line fits the terminal's width (long input scrolls sideways), so the
   * frame's height on screen is its number of lines, which `print` relies on.
   */
  private frame(): string {
    if (this.state === "cancel" || this.state === "submit") return "";
    const columns = this.#output.columns || 80;
    const block = this.#block === undefined ? "" : `[${this.#block.split("\n").length} pasted lines] `;
    const input = inputWindow(this.userInput, this.cursor, Math.max(columns - 4 - block.length, 8));
    const hint = block ? "Enter sends the pasted lines as one message · Esc drops them" : this.#hint;
    return [
      `${styleText("cyan", "◆")}  ${this.#title}`,
      `${styleText("cyan", "│")}  ${styleText("yellow", block)}${input}`,
      `${styleText("cyan", "└")}  ${styleText("dim", fitWidth(hint, columns - 4))}`,
      "",
    ].join("\n");
  }
}

/**
 * The part of `text` to show in `width` columns with the cursor at `cursor` (a UTF-16 index, as
 * readline counts): all of it if it fits, otherwise a window around the cursor with `…` where text
 * is cut. The cursor is drawn as an inverse character, or a block at the end, as clack does.
 */
export function inputWindow(text: string, cursor: number, width: number): string {
  const atEnd = cursor >= text.length;
  const at = atEnd ? "" : String.fromCodePoint(text.codePointAt(cursor)!);
  let before = text.slice(0, cursor);
  let after = text.slice(cursor + at.length);
  const cursorWidth = Math.max(1, Bun.stringWidth(at));
  if (Bun.stringWidth(before) + cursorWidth + Bun.stringWidth(after) > width) {
    // Keep some text after the cursor in view, and as much as fits before it.
    const keepAfter = Math.min(Bun.stringWidth(after), Math.floor(width / 4));
    const roomBefore = width - cursorWidth - keepAfter;
    if (Bun.stringWidth(before) > roomBefore) before = `…${dropFromStart(before, roomBefore - 1)}`;
    const roomAfter = width - cursorWidth - Bun.stringWidth(before);
    if (Bun.stringWidth(after) > roomAfter) after = fitWidth(after, roomAfter);
  }
  const cursorGlyph = atEnd ? "█" : styleText("inverse", at);
  return `${before}${cursorGlyph}${after}`;
}

/** The end of `text` that fits in `width` columns. */
function dropFromStart(text: string, width: number): string {
  const chars = Array.from(text);
  let shown = 0;
  let start = chars.length;
  while (start > 0 && shown + Bun.stringWidth(chars[start - 1]!) <= width) shown += Bun.stringWidth(chars[--start]!);
  return chars.slice(start).join("");
}

/** The start of `text` that fits in `width` columns, with `…` if cut. */
export function fitWidth(text: string, width: number): string {
  if (Bun.stringWidth(text) <= width) return text;
  const chars = Array.from(text);
  let shown = 0;
  let end = 0;
  while (end < chars.length && shown + Bun.stringWidth(chars[end]!) <= width - 1)
    shown += Bun.stringWidth(chars[end++]!);
  return `${chars.slice(0, end).join("")}…`;
}
