/**
 * The keyboard as the input line reads it: stdin, with the text of each bracketed paste taken out
 * whole. readline reads its input a key at a time, and for each character it inserts it measures
 * the whole line again, so a paste of 12,000 characters took 20 s and one of 70,000 never ended
 * (Ctrl-C, queued behind it, with it). Here a paste is cut out of the stream as one string, and
 * readline sees only its start and end marks: on the end mark, the input line takes the text.
 */
import { Transform, type TransformCallback } from "node:stream";
import { StringDecoder } from "node:string_decoder";

/** What a terminal in bracketed paste mode (xterm's mode 2004) sends around a paste. */
const PASTE_START = "\x1b[200~";
const PASTE_END = "\x1b[201~";
/**
 * How long the start of a mark, cut off at the end of a read, waits for the rest. A terminal
 * sends a mark in one write, so the rest is never far behind; a lone Escape waits this long.
 */
const MARK_WAIT_MS = 20;

export class Keyboard extends Transform {
  /** clack and readline switch the input to raw mode only if it says it is a terminal. */
  readonly isTTY = true;
  readonly #decoder = new StringDecoder("utf8");
  /** Pastes read whole whose end mark readline has not yet reported. */
  readonly #pastes: string[] = [];
  /** The pieces of the paste being read; undefined between pastes. */
  #paste: string[] | undefined;
  /** The end of the last read, held back because it may be the start of a mark. */
  #held = "";
  #heldTimer: Timer | undefined;

  constructor(private readonly stdin: NodeJS.ReadStream) {
    super();
  }

  /** Starts passing on what is typed. */
  attach(): void {
    this.stdin.pipe(this);
  }

  /** Stops reading stdin, so that it can be used by others or the program can end. */
  detach(): void {
    this.stdin.unpipe(this);
    this.stdin.pause();
  }

  setRawMode(raw: boolean): this {
    this.stdin.setRawMode?.(raw);
    return this;
  }

  /** The text of the oldest paste not yet taken: call it when readline reports a paste's end. */
  takePaste(): string | undefined {
    return this.#pastes.shift();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    clearTimeout(this.#heldTimer);
    this.#read(this.#held + this.#decoder.write(chunk));
    done();
  }

  override _flush(done: TransformCallback): void {
    clearTimeout(this.#heldTimer);
    this.#passOn(this.#held + this.#decoder.end());
    this.#held = "";
    done();
  }

  /** Splits `text` into keys (passed on) and pastes (kept whole), holding back a mark cut in two. */
  #read(text: string): void {
    this.#held = "";
    for (;;) {
      if (this.#paste) {
        const end = text.indexOf(PASTE_END);
        if (end === -1) {
          const cut = text.length - partialMark(text, PASTE_END);
          this.#paste.push(text.slice(0, cut));
          this.#held = text.slice(cut);
          return;
        }
        this.#paste.push(text.slice(0, end));
        this.#pastes.push(this.#paste.join(""));
        this.#paste = undefined;
        this.#passOn(PASTE_START + PASTE_END);
        text = text.slice(end + PASTE_END.length);
      } else {
        const start = text.indexOf(PASTE_START);
        if (start === -1) {
          const cut = text.length - partialMark(text, PASTE_START);
          this.#passOn(text.slice(0, cut));
          this.#held = text.slice(cut);
          // Between pastes what is held is passed on soon anyway: it may be the Escape key.
          if (this.#held !== "") this.#heldTimer = setTimeout(() => this.#passOnHeld(), MARK_WAIT_MS);
          return;
        }
        this.#passOn(text.slice(0, start));
        this.#paste = [];
        text = text.slice(start + PASTE_START.length);
      }
    }
  }

  #passOnHeld(): void {
    if (this.#paste) return;
    this.#passOn(this.#held);
    this.#held = "";
  }

  #passOn(keys: string): void {
    if (keys !== "") this.push(keys);
  }
}

/** How long a start of `mark` (not all of it) `text` ends with, 0 if none. */
function partialMark(text: string, mark: string): number {
  for (let length = Math.min(mark.length - 1, text.length); length > 0; length--) {
    if (text.endsWith(mark.slice(0, length))) return length;
  }
  return 0;
}
