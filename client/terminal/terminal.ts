/**
 * The interactive client, on a terminal: a clack session that asks for a name, shows a spinner
 * while connecting, then keeps an input line at the bottom while what is said in the room appears
 * above it, and what happens to the connection shows in the line's title.
 */

import { styleText } from "node:util";
import { intro, log, outro } from "@clack/prompts";
import type { AccountEvent } from "../../common/account-events";
import { type Command, CommandError, parseTyped } from "../../common/commands";
import type { ChatEvent, NoticeEvent } from "../../common/events";
import { CAME_AND_WENT_MS, cameAndWentLine, messagesWere } from "../../common/text";
import type { ChatSession } from "../session/session";
import type { SessionOptions, Status } from "../session/status";
import { exitAfterOutput } from "./exit";
import { exitCodeFor, withHint } from "./failures";
import { inGuide } from "./guide";
import { InputLine, warning } from "./input-line";
import { join } from "./joining";
import type { KeptLogins } from "./kept-logins";
import type { Accounts } from "./login";
import { type SecretQuestion, secretQuestions, withSecrets } from "./secrets";
import { TerminalView } from "./terminal-view";

/**
 * A clack session: intro, a name (and its password, for a registered one), a spinner while
 * connecting, then the input line until you leave.
 */
export async function chatInTerminal(given: SessionOptions, accounts: Accounts): Promise<void> {
  intro(styleText("inverse", ` chat · ${given.url} `));

  // 0 to 2. A name, its password if it is registered, and the connection (joining.ts).
  const joined = await join(given, accounts);
  if (!joined) return;
  const { opened, options } = joined;
  const { session } = opened;

  // 3. The input line; what arrives is printed above it, and so is what happens to the connection.
  const screen = new ChatScreen(session, options.url, accounts.kept);
  opened.listen(
    (event) => screen.show(event),
    (status) => screen.status(status),
  );

  // 4. Until the user leaves, or the connection is over for good.
  await screen.input.run();
  const { ended } = screen;
  if (ended) {
    log.error(inGuide(withHint(ended.message, ended.code, options.url)).join("\n"));
    return exitAfterOutput(exitCodeFor(ended.code));
  }
  await session.close();
  outro("Left the chat.");
  exitAfterOutput(0);
}

const SPINNER = ["◒", "◐", "◓", "◑"];

/** The input line, with events printed above it and the connection's state in its title. */
class ChatScreen {
  readonly input: InputLine;
  readonly #view: TerminalView;
  #reconnecting: { attempt: number; frame: number; timer: Timer } | undefined;
  /** The last join notice printed, to fold a quick leave into it. */
  #lastJoin: { address: string; at: number; printed: number } | undefined;
  /** Set when the session is over for good: what to say, and why (its code, for the exit code). */
  ended: Extract<Status, { type: "ended" }> | undefined;
  /** The longest message the server takes, in bytes, from its welcome. */
  #maxMessage: number | undefined;

  constructor(
    private readonly session: ChatSession,
    private readonly url: string,
    private readonly kept: KeptLogins,
  ) {
    this.#view = new TerminalView(session.where, session.ignoring);
    this.input = new InputLine({
      title: "Message",
      hint: "Enter sends · /help lists commands · /quit leaves",
      onLine: (line) => this.#typed(line),
      tooLong: (text) => this.#tooLong(text),
    });
  }

  show(event: ChatEvent): void {
    if (event.type === "welcome") this.#maxMessage = event.limits.maxMessage;
    if (event.type === "account") this.#account(event);
    // A kept token the server no longer takes is of no use: the next start asks for the password.
    if (event.type === "error" && event.code === "session-invalid") this.kept.forget(this.url);
    const shown = this.#view.render(event);
    if (event.type === "notice" && event.event === "leave" && this.#cameAndWent(event)) return this.#retitle();
    if (shown) this.input.print(shown.text, shown.gutter);
    if (event.type === "notice" && event.event === "join" && event.user)
      this.#lastJoin = { address: event.user.address, at: Date.now(), printed: this.input.printed };
    this.#retitle();
  }

  /**
   * A login (its token kept for the next start, so that it asks for no password) or a logout (the
   * kept token forgotten). The token itself is never shown.
   */
  #account(event: AccountEvent): void {
    const problem =
      event.name === null
        ? this.kept.forget(this.url)
        : event.token !== undefined
          ? this.kept.keep(this.url, { name: event.name, token: event.token })
          : undefined;
    if (problem) this.input.print(...warning(`${problem} The next start will ask for the password.`));
  }

  /**
   * Someone who joined a moment ago leaves with nothing printed since (a client that only looked
   * in, a reconnect that did not last): their join line becomes "came and went", not two lines.
   */
  #cameAndWent(event: NoticeEvent): boolean {
    const join = this.#lastJoin;
    this.#lastJoin = undefined;
    if (
      !join ||
      !event.user ||
      join.address !== event.user.address ||
      join.printed !== this.input.printed ||
      Date.now() - join.at > CAME_AND_WENT_MS
    )
      return false;
    const folded = this.#view.render({ ...event, text: cameAndWentLine(event.user) });
    if (folded) this.input.replaceLast(folded.text, folded.gutter);
    return true;
  }

  status(status: Status): void {
    switch (status.type) {
      case "lost":
        if (!this.#reconnecting) {
          this.input.print(...warning(`Connection lost (${status.reason}). Reconnecting; what you type waits.`));
          const timer = setInterval(() => {
            if (this.#reconnecting) this.#reconnecting.frame++;
            this.#retitle();
          }, 150);
          this.#reconnecting = { attempt: status.attempt, frame: 0, timer };
        }
        this.#reconnecting.attempt = status.attempt;
        return this.#retitle();
      case "reconnected":
        clearInterval(this.#reconnecting?.timer);
        this.#reconnecting = undefined;
        this.input.print(styleText("green", `Reconnected to ${this.url}.`), styleText("green", "✓"));
        return this.#retitle();
      case "not-sent":
        return this.input.print(...warning(`${messagesWere(status.count)} not sent: ${status.why}.`));
      case "refused":
        return; // the server's error event, shown with the others, says why
      case "ended":
        clearInterval(this.#reconnecting?.timer);
        this.ended = status;
        return this.input.end();
    }
  }

  #typed(line: string): void {
    const questions = secretQuestions(line);
    if (questions) return void this.#askSecrets(line, questions);
    let command: Command;
    try {
      command = parseTyped(line);
    } catch (error) {
      if (!(error instanceof CommandError)) throw error;
      return this.input.print(...warning(error.message));
    }
    if (command.type === "quit") return this.input.end();
    this.session.send(command);
    this.#retitle();
  }

  /** `/login alice`: asks for the password (masked), then sends the command with it; nothing if the user gives up. */
  async #askSecrets(line: string, questions: SecretQuestion[]): Promise<void> {
    const answers: string[] = [];
    for (const { title, confirm } of questions) {
      const answer = await this.input.ask(title);
      if (answer === undefined) return this.input.print(...warning(`${line.split(/\s/)[0]} not sent.`));
      if (confirm && (await this.input.ask("The same again, to be sure")) !== answer)
        return this.input.print(...warning(`The two did not match; ${line.split(/\s/)[0]} not sent.`));
      answers.push(answer);
    }
    this.session.send(withSecrets(line, answers));
  }

  /** Why `text` cannot be sent: more bytes than the server takes, which it would refuse. */
  #tooLong(text: string): string | undefined {
    const limit = this.#maxMessage;
    if (limit === undefined) return undefined;
    const size = sizeAsServerCounts(text);
    if (size <= limit) return undefined;
    return `Too long: ${size} bytes, the limit is ${limit}. Shorten it, or Esc drops it.`;
  }

  #retitle(): void {
    const title = this.#view.title();
    const reconnecting = this.#reconnecting;
    // A pasted block goes out a line at a time, at the server's rate: the title says how many wait.
    const queued = this.session.queued;
    const waiting = queued > 1 ? ` · ${queued} waiting to send` : "";
    this.input.retitle(
      reconnecting
        ? `${title}${waiting} · ${SPINNER[reconnecting.frame % SPINNER.length]} reconnecting (attempt ${reconnecting.attempt})`
        : `${title}${waiting}`,
    );
  }
}

/**
 * The size of `line` in bytes as the server holds it to its --max-message: a message's own text
 * (a private one's too; not the JSON around it), or, for another command, the frame.
 */
function sizeAsServerCounts(line: string): number {
  let command: Command;
  try {
    command = parseTyped(line);
  } catch (error) {
    if (!(error instanceof CommandError)) throw error;
    command = { type: "say", text: line };
  }
  return "text" in command ? Buffer.byteLength(command.text) : Buffer.byteLength(JSON.stringify(command));
}
