/**
 * The page's connection to the chat: opening the session (the same ChatSession as the terminal
 * client's, so it reconnects and resumes the same way), the status line in the top bar and the
 * field's hint that goes with it, what the page says as the connection is lost, comes back or ends,
 * and a button to try again once the session gave up. A ban is said in its own words (who, how
 * long, why), whether it closed the connection or refused a new one, and offers no retry.
 */
import { ChatSession, ConnectError, NameRefusedError } from "../client/session/session";
import type { Status } from "../client/session/status";
import type { ChatEvent } from "../common/events";
import { messagesWere } from "../common/text";
import { refused } from "./field";
import { keptLogin } from "./kept-login";
import { add, append, clearLog, failPending } from "./log";
import { LoginWatch } from "./login";
import { FittingPlaceholder } from "./placeholder";
import type { PageState } from "./state";

const chat = document.getElementById("chat") as HTMLDivElement;
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
  banned: ["Banned from this chat: you cannot write here", "Banned: you cannot write here", "Banned"],
};

export type Connectedness = "online" | "reconnecting" | "offline";

/** How to log in to a registered name on joining: with the session token kept from before, or its password. */
export type Login = { session: string } | { password: string };

/**
 * Why joining did not get us in: the server's words, whether the name is a registered one (log in
 * to have it), whether the server is for registered accounts only (every name is: log in), and
 * whether this address is banned (no name will do: the reason says who banned it, how long, why).
 */
export interface JoinRefusal {
  reason: string;
  registered: boolean;
  accountsOnly: boolean;
  banned?: boolean;
}

/**
 * Why the server refused our connection, if a ban is why: a browser's WebSocket tells nothing of a
 * refused upgrade (not even its 403), so the server's /auth says the ban again, as it does to the
 * terminal client (client/session/connect.ts).
 */
async function banOf(error: ConnectError): Promise<string | undefined> {
  if (error.code !== "handshake" && error.code !== "forbidden") return undefined;
  const answer = await fetch("/auth", { cache: "no-store" }).catch(() => undefined);
  return answer?.status === 403 ? (await answer.text()).trim() || undefined : undefined;
}

export class Connection {
  readonly #hint = new FittingPlaceholder(messageInput);
  /** The token the name form gave, for trying again. */
  #token: string | undefined;

  /** The connection of the page whose state is `state`; each event that comes goes to `show`. */
  constructor(
    private readonly state: PageState,
    private readonly show: (event: ChatEvent) => void,
  ) {}

  /**
   * Connects and listens, logged in to `name` as `login` says, if it is a registered name; returns
   * why the server refused the name (or the login), to ask again.
   */
  async join(name: string | undefined, token: string | undefined, login?: Login): Promise<JoinRefusal | undefined> {
    this.#token = token;
    let session: ChatSession;
    try {
      session = await ChatSession.open({
        url: `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/`,
        ...(name && { name }),
        ...(token !== undefined && { token }),
        // The session offers it on every connection, then the one of its last login.
        ...(login && "session" in login && { session: login.session }),
        reconnect: true,
      });
    } catch (error) {
      if (error instanceof NameRefusedError)
        return { reason: error.reason, registered: (error.code as string) === "name-registered", accountsOnly: false };
      if (!(error instanceof ConnectError)) throw error;
      const ban = await banOf(error);
      if (ban) return { reason: ban, registered: false, accountsOnly: false, banned: true };
      this.setStatus("offline", "Not connected");
      append("error", error.message);
      return undefined;
    }
    this.state.session = session;
    const watch = new LoginWatch();
    session.listen(
      (event) => {
        if (!watch.takes(event)) this.show(event);
      },
      (change) => this.#onStatus(change),
    );
    // What came before `joined`, the refusals of the name and of the session token included, has
    // been heard by now. A session token refused does not get us in, even where the name is free
    // (its account deleted): it was to join logged in, and the form says it was not.
    const failed = watch.refusal && !watch.banned && (await this.#logIn(session, name, login, watch));
    const sessionRefused = login && "session" in login ? watch.sessionRefusal : undefined;
    this.state.accountsOnly ||= watch.accountsOnly;
    // The account is banned (its kept token said so, or the login): no password or name would do.
    if (watch.banned) {
      await this.#leave(session);
      return { reason: watch.banned.message, registered: false, accountsOnly: false, banned: true };
    }
    if (failed || sessionRefused) {
      await this.#leave(session);
      const reason = failed || (sessionRefused?.message ?? "");
      return { reason, registered: watch.refusal !== undefined, accountsOnly: watch.accountsOnly };
    }
    watch.done();
    this.setStatus("online", "Connected");
    return undefined;
  }

  /**
   * The name was refused as registered, or the server wants a login (--guests no): logs in to the
   * name with the password, if there are both; why not, if not.
   */
  async #logIn(
    session: ChatSession,
    name: string | undefined,
    login: Login | undefined,
    watch: LoginWatch,
  ): Promise<string | undefined> {
    if (name === undefined || !login || !("password" in login)) return watch.refusal?.message ?? "";
    session.send({ type: "login", name, password: login.password });
    return watch.answer();
  }

  /** A connection that did not get the name asked for closes; the next one starts the page afresh. */
  async #leave(session: ChatSession): Promise<void> {
    await session.close();
    this.state.session = undefined;
    this.state.room = "";
    clearLog();
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
        if (change.code === "banned") return this.#banned(change.message);
        this.setStatus("offline", "Disconnected");
        messageInput.disabled = true;
        failPending();
        append("error", change.message);
        return this.#offerRetry();
      case "refused":
        return refused(change);
    }
  }

  /**
   * We are banned (`why` says by whom, how long and why): no retry to offer, nothing to type, and
   * the chat's people and our name's buttons are of no use to us now (moderation.css hides them).
   */
  #banned(why: string): void {
    this.setStatus("offline", "Banned");
    this.#hint.wordings = HINTS.banned;
    chat.classList.add("banned");
    messageInput.disabled = true;
    failPending();
    append("error", why);
    append("info", "Once the ban is over, reload the page to join again.");
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
      const kept = keptLogin.get();
      const refused = await this.join(this.state.myName, this.#token, kept && { session: kept.token });
      if (refused?.banned) {
        button.closest("li")?.remove();
        return this.#banned(refused.reason);
      }
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
