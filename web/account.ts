/**
 * The side panel's part about your name: whether it is yours (registered, and logged in) or
 * anyone's to take once you leave; "Keep this name", which registers it with a password asked
 * twice; "Log out"; and "Log in", which asks for a registered name and its password in the name
 * form (name-form.ts) and logs in on the connection we have. The session token the server gives
 * goes to this browser's kept login (kept-login.ts), and logging out forgets it. On a server for
 * registered accounts only (--guests no), a guest can only log in: "Log in" is what it offers.
 */
import type { AccountEvent } from "../common/account-events";
import type { ErrorEvent } from "../common/events";
import { keptLogin } from "./kept-login";
import { append } from "./log";
import { LOGIN_WAIT_MS } from "./login";
import type { PageState } from "./state";

const status = document.getElementById("account-status") as HTMLParagraphElement;
const keepButton = document.getElementById("keep-name") as HTMLButtonElement;
const logOutButton = document.getElementById("log-out") as HTMLButtonElement;
const logInButton = document.getElementById("log-in") as HTMLButtonElement;
const keepForm = document.getElementById("keep-form") as HTMLFormElement;
const newPassword = document.getElementById("new-password") as HTMLInputElement;
const newPasswordAgain = document.getElementById("new-password-again") as HTMLInputElement;
const keepProblem = document.getElementById("keep-problem") as HTMLParagraphElement;
const keepCancel = document.getElementById("keep-cancel") as HTMLButtonElement;

/** The server's shortest password (common/codes.ts, password-invalid). */
const MIN_PASSWORD = 8;

/** The refusals of a registration, said in the form rather than in the conversation. */
const REGISTRATION_REFUSALS = new Set(["password-invalid", "already-registered", "registration-closed", "bad-command"]);

/** The refusals of a login asked for from the name form, said there rather than in the conversation. */
const LOGIN_REFUSALS = new Set([
  "login-failed",
  "password-invalid",
  "rate-limited",
  "banned",
  "forbidden",
  "unavailable",
]);

/** A login or logout, in words for the conversation; the token is the page's to keep, never shown. */
function accountLine({ name, token, text }: AccountEvent): string {
  // The server's words for a change of its own (a new password), or for what came with a login (a registration).
  if (text !== undefined && (token === undefined || name === null)) return text;
  if (name === null) return "Logged out: you are a guest now, and this browser no longer logs in by itself.";
  const line = `Logged in as ${name}${token !== undefined ? "; this browser stays logged in (Log out ends that)" : ""}.`;
  return text === undefined ? line : `${text} ${line}`;
}

export class AccountPanel {
  /** A registration sent and not answered yet: its refusal goes under the form. */
  #registering = false;
  /** A login sent from the name form and not answered yet: settled with undefined once in, or the refusal's words. */
  #loggingIn: ((failure: string | undefined) => void) | undefined;
  /** The account this page was last logged in to: logging out drops the name, and "Log in" offers it again. */
  #lastAccount: string | undefined;
  /** Logged out, and nothing typed since: a login wanted now is the server's (--guests no), not a command's. */
  #loggedOut = false;

  /** `askLogin` opens the name form to log in, with a name to start from. */
  constructor(
    private readonly state: PageState,
    private readonly askLogin: (name: string | undefined) => void,
  ) {
    keepButton.addEventListener("click", () => this.openForm(true));
    keepCancel.addEventListener("click", () => this.openForm(false));
    keepForm.addEventListener("submit", (event) => {
      event.preventDefault();
      this.#register();
    });
    logOutButton.addEventListener("click", () => {
      keptLogin.forget();
      this.state.session?.send({ type: "logout" });
    });
    logInButton.addEventListener("click", () => this.openLogin(undefined));
  }

  /** Opens the name form to log in, to `name`, or else the account last logged in to, or the name held now. */
  openLogin(name: string | undefined): void {
    this.askLogin(name ?? this.#lastAccount ?? this.state.myName);
  }

  /** Logs in to `name` on the connection we have: resolves to undefined once in, or to why not. */
  async logIn(name: string, password: string): Promise<string | undefined> {
    const { session } = this.state;
    if (!session) return "Not connected to the chat: try again once it is back.";
    const { promise, resolve } = Promise.withResolvers<string | undefined>();
    const timer = setTimeout(() => resolve("The server did not answer the login. Try again."), LOGIN_WAIT_MS);
    this.#loggingIn = resolve;
    session.send({ type: "login", name, password });
    try {
      return await promise;
    } finally {
      clearTimeout(timer);
      this.#loggingIn = undefined;
    }
  }

  /** The server says whom this connection is logged in as now: kept (with a new token) or forgotten. */
  account(event: AccountEvent): void {
    this.state.account = event.name;
    this.#loggedOut = event.name === null;
    this.state.temporaryAccount = event.temporary === true;
    if (event.name === null) keptLogin.forget();
    else if (event.token !== undefined) keptLogin.keep({ name: event.name, token: event.token });
    if (event.name !== null) {
      this.#lastAccount = event.name;
      this.#loggingIn?.(undefined);
    }
    append("info", accountLine(event));
    if (this.#registering && event.name !== null) {
      this.#registering = false;
      this.openForm(false);
    }
    this.show();
  }

  /** A command of ours went out: a login wanted from now on may be its refusal. */
  sent(): void {
    this.#loggedOut = false;
  }

  /** A refusal: true if it answers our registration or login (it is said under the form, not in the conversation). */
  refused(event: ErrorEvent): boolean {
    if (event.code === "session-invalid") keptLogin.forget();
    if (event.code === "login-required" && this.#loggedOut) {
      // Refused without having asked for anything since logging out: the server is for registered
      // accounts only, and has put us outside every room (a command refused has been sent since).
      this.state.accountsOnly = true;
      this.show();
    }
    if (this.#loggingIn && LOGIN_REFUSALS.has(event.code)) {
      this.#loggingIn(event.message);
      return true;
    }
    if (!this.#registering || !REGISTRATION_REFUSALS.has(event.code)) return false;
    this.#registering = false;
    keepProblem.textContent = event.message;
    return true;
  }

  /** Says whose the name is, and offers what can be done about it. */
  show(): void {
    const { account, myName, temporaryAccount } = this.state;
    if (account) {
      const until = temporaryAccount ? " This server keeps accounts only until it stops." : "";
      status.textContent = `${account} ✓ is yours: registered, and you are logged in.${until}`;
    } else if (this.state.accountsOnly) {
      status.textContent = "This server is for registered accounts only: log in to take part.";
    } else if (myName) {
      status.textContent = `Anyone may take ${myName} once you leave.`;
    } else {
      status.textContent = "You go by your address. Choose a name with /nick NAME.";
    }
    logOutButton.hidden = !account;
    logInButton.hidden = Boolean(account);
    keepButton.hidden = Boolean(account) || !myName || !keepForm.hidden || this.state.accountsOnly;
  }

  /** Shows (or hides) the form that registers the name held now. */
  openForm(open: boolean): void {
    keepForm.hidden = !open;
    newPassword.value = "";
    newPasswordAgain.value = "";
    keepProblem.textContent = "";
    this.show();
    if (open) newPassword.focus();
  }

  /** Registers the name held now with the password typed twice, once the two agree and are long enough. */
  #register(): void {
    const password = newPassword.value;
    const problem =
      [...password].length < MIN_PASSWORD
        ? `A password needs ${MIN_PASSWORD} characters or more.`
        : password !== newPasswordAgain.value
          ? "The two passwords differ: type the same one twice."
          : undefined;
    keepProblem.textContent = problem ?? "";
    if (problem) return newPassword.focus();
    this.#registering = true;
    this.state.session?.send({ type: "register", password });
  }
}
