/**
 * The line the user types into, at the bottom of the terminal client. Messages that arrive while
 * the user is typing are printed above it; the half-typed text and the cursor stay where they were.
 *
 * It is @clack/core's TextPrompt (the prompt behind @clack/prompts' `text()`), kept open for the
 * whole session: Enter hands the line over and clears it instead of ending the prompt. Printing
 * above works like wscat's `print()`: move to the top of the prompt's frame, erase it, write the
 * message, and draw the same frame again, so clack's own idea of the screen stays true.
 *
 * What it reads is stdin less the text of bracketed pastes, which keyboard.ts takes out whole: a
 * paste goes into the input in one piece, however long, and one too long to send stays there with
 * a line saying so.
 *
 * A password is never on the screen: typed on a line (`/login alice hunter22`) it shows as dots,
 * and asked for (`ask`) the whole answer does; neither is recalled with Up.
 */

import type { Interface } from "node:readline";
import { styleText } from "node:util";
import { settings, TextPrompt } from "@clack/core";
import { carriesSecret } from "../../common/commands";
import { cleanText, plural } from "../../common/text";
import { fitWidth, inputWindow } from "./input-window";
import { Keyboard } from "./keyboard";
import { Recall } from "./recall";
import { dots, masked } from "./secrets";

export interface InputLineOptions {
  /** Shown on the prompt's first line. */
  title: string;
  /** Shown dimmed under the input. */
  hint: string;
  /** Receives each line the user enters with Enter; blank lines are not passed on. */
  onLine: (line: string) => void;
  /**
   * Why `text` cannot be sent as it is (it is too long), or undefined if it can. Text that cannot
   * is kept in the input for the user to shorten or drop with Esc, and this is said above it.
   */
  tooLong?: (text: string) => string | undefined;
}

/** A warning above the input line, for print(): yellow, behind a yellow ▲. */
export const warning = (message: string) => [styleText("yellow", message), styleText("yellow", "▲")] as const;

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
/** The guide down the left of what is printed, as @clack/prompts draws it. */
const GUIDE = styleText("gray", "│");

export class InputLine extends TextPrompt {
  readonly #stop: AbortController;
  readonly #output: NodeJS.WriteStream;
  /** stdin, with each bracketed paste taken out whole (keyboard.ts). */
  readonly #keyboard: Keyboard;
  #title: string;
  readonly #hint: string;
  readonly #tooLong: (text: string) => string | undefined;
  readonly #recall = new Recall();
  /** How many times print() was called: a caller can tell whether anything was printed since. */
  printed = 0;
  #lastPrinted = { lines: 0, count: 0 };
  /** The lines of a pasted block, waiting for Enter to go as one message. */
  #block: string[] | undefined;
  /** A secret being asked for (`ask`): the title it shows, and who waits for the answer. */
  #asking: { title: string; answer: (secret: string | undefined) => void } | undefined;

  constructor(
    { title, hint, onLine, tooLong = () => undefined }: InputLineOptions,
    output: NodeJS.WriteStream = process.stdout,
  ) {
    const stop = new AbortController();
    const keyboard = new Keyboard(process.stdin);
    super({
      input: keyboard,
      output,
      signal: stop.signal,
      render(this: InputLine) {
        return this.frame();
      },
    });
    this.#stop = stop;
    this.#output = output;
    this.#keyboard = keyboard;
    this.#title = title;
    this.#hint = hint;
    this.#tooLong = tooLong;

    this.on("key", (_char, key) => {
      if (this.#asking && this.#answer(key.name)) return;
      if (key.name === "return") return this.#enter(onLine);
      if (this.#paste(key.name)) return;
      if (key.name === "up" || key.name === "down") {
        const recalled = key.name === "up" ? this.#recall.older(this.userInput) : this.#recall.newer();
        if (recalled !== undefined) this.#replaceInput(recalled);
      } else if (key.ctrl && key.name === "d" && this.userInput === "") {
        this.state = "cancel"; // Ctrl-D on an empty line ends input, as in a shell.
      } else if (!["left", "right", "home", "end"].includes(key.name ?? "")) {
        this.#recall.edited();
      }
    });
    // clack ends a prompt with a newline; take it back so what follows starts where the frame was.
    this.on("cancel", () => this.#output.write(`${cursorUp(1)}${ERASE_TO_END_OF_SCREEN}`));
  }

  /** Enter: hands over the line, or the held block with the line after it, unless that is too long. */
  #enter(onLine: (line: string) => void): void {
    // readline has already taken the line and cleared its own copy. Recalling is ours (recall.ts):
    // readline's own history would search by the half-typed prefix and blank the line past the oldest.
    this.#readline()?.history.splice(0);
    const line = this.userInput;
    const text = this.#outgoing();
    const problem = text.trim() === "" ? undefined : this.#tooLong(text);
    if (problem !== undefined) {
      this.#replaceInput(line); // kept, readline's copy too, for the user to shorten or drop
      queueMicrotask(() => this.print(...warning(problem)));
      return;
    }
    this._setUserInput("");
    this._cursor = 0;
    if (this.#block === undefined && line.trim() !== "" && !carriesSecret(line)) this.#recall.add(line);
    this.#block = undefined;
    // Hand the text over once clack has drawn the cleared input, so that whatever onLine does to
    // the screen (even ending the prompt) comes after that drawing, not under it.
    if (text.trim() !== "") queueMicrotask(() => onLine(text));
  }

  /**
   * Asks for a secret on the input line, in place of a message: typed as dots, handed over by
   * Enter, never recalled. Undefined if the user gave up (Esc, or Enter with nothing typed).
   */
  ask(title: string): Promise<string | undefined> {
    this.#asking?.answer(undefined);
    const { promise, resolve } = Promise.withResolvers<string | undefined>();
    this.#asking = { title, answer: resolve };
    this.#block = undefined;
    this.#replaceInput("");
    this.#redraw("");
    return promise;
  }

  /** A key while a secret is asked for: Enter gives it, Esc gives up; true if the key was taken. */
  #answer(key: string | undefined): boolean {
    if (key !== "return" && key !== "escape" && key !== "up" && key !== "down") return false;
    if (key === "up" || key === "down") return true; // nothing to recall into a password
    const secret = key === "return" ? this.userInput : "";
    const { answer } = this.#asking!;
    this.#asking = undefined;
    // readline keeps its own history of lines: the secret must not stay there.
    this.#readline()?.history.splice(0);
    this.#replaceInput("");
    this.#redraw("");
    answer(secret === "" ? undefined : secret);
    return true;
  }

  /** What Enter would send: the input, after the held block if there is one. */
  #outgoing(): string {
    if (this.#block === undefined) return this.userInput;
    return (this.userInput === "" ? this.#block : [...this.#block, this.userInput]).join("\n");
  }

  /**
   * A paste (the terminal marks it, in bracketed paste mode, and keyboard.ts takes its text out
   * whole) goes into the input as if typed if it is one line. One of several lines is held as a
   * block, shown in the input, that Enter sends as one message and Esc drops. Esc also clears an
   * input too long to send. True if `key` was taken for that.
   */
  #paste(key: string | undefined): boolean {
    if (key === "paste-start") return true;
    if (key === "paste-end") {
      const pasted = this.#keyboard.takePaste();
      // A secret is one line: a pasted password is taken up to its line's end.
      if (pasted !== undefined)
        this.#insert(this.#asking ? (cleanText(pasted).split("\n")[0] ?? "") : cleanText(pasted));
      return true;
    }
    if (key === "escape" && this.#block !== undefined) {
      this.#block = undefined;
      return true;
    }
    if (key === "escape" && this.#tooLong(this.userInput) !== undefined) {
      this.#replaceInput("");
      return true;
    }
    return false;
  }

  /** Puts pasted `text` in at the cursor; says at once if that makes the message too long to send. */
  #insert(text: string): void {
    if (!text.includes("\n")) {
      // In one piece, readline measures the line once rather than once for every character.
      const rl = this.#readline();
      rl?.write(text);
      this._setUserInput(rl?.line ?? "");
      this._cursor = rl?.cursor ?? 0;
    } else {
      const lines = `${this.userInput.slice(0, this.cursor)}${text}${this.userInput.slice(this.cursor)}`.split("\n");
      if (lines.at(-1) === "") lines.pop();
      this.#block = [...(this.#block ?? []), ...lines];
      this.#replaceInput("");
    }
    this.#recall.edited();
    const problem = this.#tooLong(this.#outgoing());
    if (problem !== undefined) queueMicrotask(() => this.print(...warning(problem)));
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
    this.#keyboard.attach();
    this.#output.write(BRACKETED_PASTE_ON);
    try {
      await this.prompt();
    } finally {
      this.#output.write(BRACKETED_PASTE_OFF);
      this.#keyboard.detach();
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
  print(text: string, gutter = GUIDE): void {
    // Lines are wrapped here, at word boundaries, rather than by the terminal at its edge: each
    // piece then keeps the guide, and a wrapped piece starts under the text, not at the time. A
    // wrapped piece has the plain guide, not the line's symbol (✓, ▲), which is said once.
    const width = Math.max(20, (this.#output.columns || 80) - GUTTER_WIDTH);
    const lines = text.split("\n").flatMap((line) => {
      if (Bun.stringWidth(line) <= width) return [`${gutter}  ${line}`];
      // A line's own indentation (a list's) is kept, on its first piece and under it on the rest.
      const indent = /^ */.exec(line)![0];
      const pieces = Bun.wrapAnsi(line.slice(indent.length), width - indent.length - WRAP_INDENT.length, {
        hard: true,
      });
      const [first = "", ...rest] = pieces.split("\n");
      return [`${gutter}  ${indent}${first}`, ...rest.map((piece) => `${GUIDE}  ${indent}${WRAP_INDENT}${piece}`)];
    });
    this.#redraw(lines.map((line) => `${line}\n`).join(""));
    this.#lastPrinted = { lines: lines.length, count: ++this.printed };
  }

  /**
   * Rewrites the last thing printed, if it was one line and it is still right above the frame;
   * otherwise prints `text` as new. For "came and went" in place of a join line.
   */
  replaceLast(text: string, gutter = GUIDE): void {
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
    const block = this.#block === undefined ? "" : `[${plural(this.#block.length, "pasted line")}] `;
    const shown = this.#asking ? dots(this.userInput) : masked(this.userInput);
    const input = inputWindow(shown, this.cursor, Math.max(columns - 4 - block.length, 8));
    const hint = this.#asking
      ? "Typed as dots · Enter gives it · Esc, or Enter with nothing typed, gives up"
      : block
        ? "Enter sends the pasted lines as one message · Esc drops them"
        : this.#hint;
    return [
      `${styleText("cyan", "◆")}  ${this.#asking?.title ?? this.#title}`,
      `${styleText("cyan", "│")}  ${styleText("yellow", block)}${input}`,
      `${styleText("cyan", "└")}  ${styleText("dim", fitWidth(hint, columns - 4))}`,
      "",
    ].join("\n");
  }
}
