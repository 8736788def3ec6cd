/**
 * The server's console log, bounded: lines are gathered and written once per event-loop turn (a
 * write per message would cost more than the broadcast itself), a console nobody reads (a full
 * pipe) makes it count lines instead of keeping them, and past SAID_LINES_PER_SECOND messages a
 * second it counts them in one line instead of writing each. What users wrote is cut to
 * LOGGED_TEXT characters with its control characters escaped, so no client can drive the
 * operator's terminal or flood the disk.
 */
import type { SaidEvent } from "../common/events";
import { describeUser, forLog, hasControls } from "../common/text";

/** The log shows this much of a message: enough to follow the chat, not a copy of every big one. */
const LOGGED_TEXT = 200;
/** Bytes of log held for a console that does not keep up; past it, lines are only counted. */
const BUFFER_LIMIT = 1 << 20;
/** Messages logged one by one in a second; past that nobody reads them. */
const SAID_LINES_PER_SECOND = 1000;

/** Text from a user for the log: one line, control characters escaped, cut to LOGGED_TEXT. */
export function printable(text: string): string {
  if (text.length <= LOGGED_TEXT && !hasControls(text)) return text;
  return forLog(text.length > LOGGED_TEXT ? `${text.slice(0, LOGGED_TEXT)}… (${text.length} characters)` : text);
}

/** Where log lines go: stdout in the server; anything with the same shape in a test. */
export interface LogOutput {
  write(text: string): unknown;
  readonly writableLength: number;
}

export class Logger {
  #pending = "";
  #dropped = 0;
  #saidLogged = 0;
  #saidCounted = 0;

  constructor(
    private readonly output: LogOutput = process.stdout,
    /** Messages are not logged (--quiet); connections still are. */
    private readonly quiet = false,
  ) {}

  line(text: string): void {
    if (this.#pending.length > BUFFER_LIMIT || this.output.writableLength > BUFFER_LIMIT) {
      this.#dropped++;
      return;
    }
    if (this.#pending === "") setImmediate(() => this.flush());
    this.#pending += `${text}\n`;
  }

  /** A message or action, within SAID_LINES_PER_SECOND; the rest of each second are counted. */
  said(event: SaidEvent): void {
    if (this.quiet) return;
    if (this.#saidLogged === 0) setTimeout(() => this.#endSaidSecond(), 1000).unref();
    if (this.#saidLogged === SAID_LINES_PER_SECOND) return void this.#saidCounted++;
    this.#saidLogged++;
    this.line(
      `${event.type === "message" ? "Message" : "Action"} from ${describeUser(event.from)} in ${event.room}: ${printable(event.text)}`,
    );
  }

  flush(): void {
    if (this.#dropped > 0) {
      this.#pending += `(${this.#dropped} log lines dropped: the console could not keep up)\n`;
      this.#dropped = 0;
    }
    if (this.#pending !== "") this.output.write(this.#pending);
    this.#pending = "";
  }

  #endSaidSecond(): void {
    const counted = this.#saidCounted;
    if (counted > 0)
      this.line(`(${counted} more message${counted === 1 ? "" : "s"} in the last second, too many to log one by one)`);
    this.#saidLogged = 0;
    this.#saidCounted = 0;
  }
}
