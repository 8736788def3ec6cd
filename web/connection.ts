/**
 * The page's connection to the chat: opening the session (the same ChatSession as the terminal
 * client's, so it reconnects and resumes the same way), the status line in the top bar and the
 * field's hint that goes with it, what the page says as the connection is lost, comes back or ends,
 * and a button to try again once the session gave up.
 */
import { ChatSession, ConnectError, NameRefusedError } from "../client/session/session";
import type { Status } from "../client/session/status";
import type { ChatEvent } from "../common/events";
import { messagesWere } from "../common/text";
import { refused } from "./field";
import { add, append, failPending } from "./log";
import { FittingPlaceholder } from "./placeholder";
import type { PageState } from "./state";

const statusLine = document.getElementById("status") as HTMLParagraphElement;
const messageInput = document.getElementById("message") as HTMLTextAreaElement;

/**
 * The field's hint, as long as its width allows (placeholder.ts). Offline, the field stays usable,
 * and says what becomes of what is typed.
 */
const HINTS = {
  online: [
    "Message · Shift+Enter for a new line · /help lists the commands",
    "Message · /help lists the commands",
    "Message",
  ],
  offline: [
    "Offline: what you type waits, and goes out on reconnecting",
    "Offline: what you type waits",
    "Offline: messages wait",
    "Offline",
  ],
};

export type Connectedness = "online" | "reconnecting" | "offline";

export class Connection {
  readonly #hint = new FittingPlaceholder(messageInput);
  /** The token the name form gave, for trying again. */
  #token: string | undefined;

  /** The connection of the page whose state is `state`; each event that comes goes to `show`. */
  constructor(
    private readonly state: PageState,
    private readonly show: (event: ChatEvent) => void,
  ) {}

  /** Connects and listens; returns the server's reason if it refused the name, to ask again. */
  async join(name: string | undefined, token: string | undefined): Promise<string | undefined> {
    this.#token = token;
    const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/`;
    let session: ChatSession;
    try {
      session = await ChatSession.open({
        url,
        ...(name && { name }),
        ...(token !== undefined && { token }),
        reconnect: true,
      });
    } catch (error) {
      if (error instanceof NameRefusedError) return error.reason;
      if (!(error instanceof ConnectError)) throw error;
      this.setStatus("offline", "Not connected");
      append("error", error.message);
      return undefined;
    }
    this.state.session = session;
    this.setStatus("online", "Connected");
    session.listen(this.show, (change) => this.#onStatus(change));
    return undefined;
  }

  /** The status line says `text`; the field's hint says what becomes of what is typed. */
  setStatus(connectedness: Connectedness, text: string): void {
    this.state.online = connectedness === "online";
    this.#hint.wordings = this.state.online ? HINTS.online : HINTS.offline;
    statusLine.className = `status ${connectedness}`;
    statusLine.textContent = text;
  }

  #onStatus(change: Status): void {
    switch (change.type) {
      case "lost":
        return this.setStatus("reconnecting", `Reconnecting… (attempt ${change.attempt})`);
      case "reconnected":
        return this.setStatus("online", "Connected");
      case "not-sent":
        failPending(change.count);
        return void append("error", `${messagesWere(change.count)} not sent: ${change.why}.`);
      case "ended":
        this.setStatus("offline", "Disconnected");
        messageInput.disabled = true;
        failPending();
        append("error", change.message);
        return this.#offerRetry();
      case "refused":
        return refused(change);
    }
  }

  /** The session gave up: a button to try again (the page keeps the name; a reload would too). */
  #offerRetry(): void {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "retry";
    button.textContent = "Reconnect";
    button.addEventListener("click", async () => {
      button.disabled = true;
      this.setStatus("reconnecting", "Reconnecting…");
      await this.join(this.state.myName, this.#token);
      if (this.state.online) {
        button.closest("li")?.remove();
        messageInput.disabled = false;
        messageInput.focus();
      } else button.disabled = false;
    });
    const item = document.createElement("li");
    item.className = "info";
    item.append(button);
    add(item);
  }
}
