/**
 * Getting into the chat on a terminal: a name (asked for unless given), and for a registered name
 * its password, asked for masked (or taken from --password-file or CHAT_PASSWORD), unless a login
 * kept from an earlier run (kept-logins.ts) does instead. On a server for registered accounts only
 * (--guests no) every name is a registered one, and one is needed. A name the server refuses is
 * asked for again; any other failure is said, with its exit code, and so is an account banned
 * from the chat (at its kept login, or its password), without asking anything.
 */
import { styleText } from "node:util";
import { cancel, isCancel, log, password, S_STEP_ERROR, spinner, text } from "@clack/prompts";
import { NO_ACCOUNT } from "../../common/account-events";
import type { ErrorEvent } from "../../common/events";
import { nameProblem, normalizeName } from "../../common/text";
import { ConnectError, NameRefusedError } from "../session/session";
import type { SessionOptions } from "../session/status";
import { checkListening } from "./bun-socket";
import { exitAfterOutput } from "./exit";
import { describeFailure, EXIT_REFUSED, exitCodeFor } from "./failures";
import { inGuide } from "./guide";
import type { KeptLogins } from "./kept-logins";
import { type Accounts, type AskPassword, NotLoggedInError, type Opened, openLoggedIn } from "./login";

/** The same name, whatever its case: a kept login's name as registered, and the one asked for. */
const sameName = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

/**
 * Connects, asking for what it needs on the way; the session once in, with the options it got in
 * with, or undefined when the user left or it failed (the exit is under way).
 */
export async function join(
  given: SessionOptions,
  accounts: Accounts,
): Promise<{ opened: Opened; options: SessionOptions } | undefined> {
  let options = given;
  // 0. Before asking for a name, that something answers there: a name typed for a server that is
  //    not running is typed for nothing.
  if (options.name === undefined && !(await somethingListens(options.url))) return undefined;

  // 1. A login kept from an earlier run logs in without asking, unless another name was asked for.
  options = withKeptLogin(options, accounts);

  // 2. A name, unless given, and the connection; a name the server refuses is asked for again,
  //    and a registered one's password (on a server for registered accounts only, any name's).
  const asking = new Asking(accounts.password, accounts.kept);
  for (;;) {
    if (options.name === undefined) {
      const name = await askName(asking.accountsOnly);
      if (name === undefined) return void exitAfterOutput(0);
      options = { ...options, ...(name !== "" && { name }) };
    }
    asking.connecting(options.url);
    try {
      const opened = await openLoggedIn(options, asking.password);
      asking.connected(opened.session.account);
      return { opened, options };
    } catch (error) {
      if (!askAgain(error, asking, options.url)) return undefined;
      options = { ...options, name: undefined };
    }
  }
}

/**
 * After a try that did not get in: true to ask for a name again (a name refused, Enter alone at
 * the password, an account's name wanted); otherwise why is said and the exit is under way.
 */
function askAgain(error: unknown, asking: Asking, url: string): boolean {
  if (error instanceof NotLoggedInError) {
    if (error.refusal.code === "banned") {
      // The account is banned from the chat: no name or password asked for changes that. Its kept
      // login stays: the ban may be lifted, or end, and the next start then gets in without asking.
      asking.said(error.refusal.message);
      exitAfterOutput(EXIT_REFUSED);
      return false;
    }
    // No name, on a server for registered accounts only: the account's name is asked for.
    if (error.account === undefined) {
      asking.failed(error.refusal);
      return true;
    }
    if (asking.anotherName) return true;
    exitAfterOutput(0);
    return false;
  }
  if (error instanceof NameRefusedError) {
    asking.said(error.reason);
    return true;
  }
  if (!(error instanceof ConnectError)) throw error;
  asking.said(describeFailure(error, url));
  exitAfterOutput(exitCodeFor(error.code));
  return false;
}

/** What is asked and said while connecting, over the attempts (a name refused, a password wrong). */
class Asking {
  /** The server said it is for registered accounts only (--guests no): said once, and a name is needed. */
  accountsOnly = false;
  /** Enter alone at the password, in this attempt: another name, rather than leaving. */
  anotherName = false;
  /** This attempt's spinner, until something is said over it. */
  #spinner: ReturnType<typeof spinner> | undefined;
  #url = "";

  constructor(
    /** The command line's password: tried first, once; it is not tried again after a wrong one. */
    private filePassword: string | undefined,
    private readonly kept: KeptLogins,
  ) {}

  connecting(url: string): void {
    this.#url = url;
    this.anotherName = false;
    this.#spinner = spinner();
    this.#spinner.start(`Connecting to ${url}`);
  }

  connected(account: string | null): void {
    const loggedIn = account !== null ? ` and logged in as ${account}` : "";
    this.#ended(`Connected to ${this.#url}${loggedIn}`, "success");
  }

  /** Says what went wrong: over the spinner while it turns, as a warning after a question. */
  said(words: string): void {
    this.#ended(words, "error");
  }

  /** Says why the server refused to let us in as we are; that it is for accounts only, only the first time. */
  failed(refusal: ErrorEvent, name?: string): void {
    if (refusal.code === "session-invalid") this.kept.forget(this.#url);
    const told = refusal.code === "login-required" && this.accountsOnly;
    this.accountsOnly ||= refusal.code === "login-required";
    if (!told) return this.said(whyAsked(name, refusal));
    // Said already: the spinner goes without a trace, the question follows.
    this.#spinner?.clear();
    this.#spinner = undefined;
  }

  /** The password of the registered `name`, and why it is asked; undefined to ask for another name, or to leave. */
  readonly password: AskPassword = async (name, refusal) => {
    this.failed(refusal, name);
    const secret = this.filePassword ?? (await askPassword(name));
    this.filePassword = undefined;
    this.anotherName = secret === "";
    return secret === "" ? undefined : secret;
  };

  #ended(words: string, how: "success" | "error"): void {
    // The spinner's last line takes one line of words; more go below it, in the guide.
    const [first = "", ...more] = inGuide(words);
    if (this.#spinner && how === "success") this.#spinner.stop(first);
    else if (this.#spinner) this.#spinner.error(first);
    else if (how === "success") log.success(first);
    else log.warn(first);
    if (more.length > 0) log.message(more.join("\n"), { spacing: 0 });
    this.#spinner = undefined;
  }
}

/** The options with the login kept for this server, if there is one for the name asked (--forget drops it). */
function withKeptLogin(options: SessionOptions, accounts: Accounts): SessionOptions {
  if (accounts.forget && accounts.kept.get(options.url)) {
    const problem = accounts.kept.forget(options.url);
    log.info(problem ?? `Forgot the login kept for ${options.url}.`);
  }
  const kept = accounts.kept.get(options.url);
  if (!kept || (options.name !== undefined && !sameName(kept.name, options.name))) return options;
  return { ...options, name: kept.name, session: kept.token };
}

/**
 * Why the password (or, without `name`, the account's name) is asked for: the name is registered,
 * the server is for registered accounts only, the kept login was refused, or the last password was wrong.
 */
function whyAsked(name: string | undefined, refusal: ErrorEvent): string {
  switch (refusal.code) {
    case "login-required":
      return `This server is for registered accounts only: log in to yours.\n${NO_ACCOUNT}`;
    case "session-invalid":
      return `The login kept for ${name ?? "this server"} is no longer valid: log in again.`;
    case "login-failed":
    case "password-invalid":
    case "rate-limited":
    case "unavailable":
      return refusal.message;
    default:
      return `${name} is a registered name: log in to use it.`;
  }
}

/** Whether anything listens at `url`; if not, says why, as connecting would, and exits. */
async function somethingListens(url: string): Promise<boolean> {
  // No guide line of its own: when the check passes, the spinner vanishes without a trace.
  const checking = spinner({ withGuide: false });
  checking.start(`Connecting to ${url}`);
  try {
    await checkListening(url, url);
  } catch (error) {
    checking.clear();
    if (!(error instanceof ConnectError)) throw error;
    log.message(inGuide(describeFailure(error, url)).join("\n"), { symbol: styleText("red", S_STEP_ERROR) });
    exitAfterOutput(exitCodeFor(error.code));
    return false;
  }
  checking.clear();
  return true;
}

/**
 * Asks for a name: "" to go by the address only, undefined if the person left (Ctrl-C). On a server
 * for registered accounts only (`accountsOnly`), the account's name, which cannot be left out.
 */
async function askName(accountsOnly: boolean): Promise<string | undefined> {
  const answer = await text({
    message: accountsOnly ? "Your account's name" : "Your name",
    ...(!accountsOnly && { placeholder: "Enter to go by your address only" }),
    validate: (value) => {
      if (value && value.trim() !== "") return nameProblem(normalizeName(value));
      return accountsOnly ? "This server is for registered accounts only: type your account's name." : undefined;
    },
  });
  if (isCancel(answer)) {
    cancel("Not connected.");
    return undefined;
  }
  return normalizeName(answer);
}

/** Asks for a registered name's password, masked: "" to choose another name, undefined if the person left. */
async function askPassword(name: string): Promise<string | undefined> {
  const answer = await password({ message: `${name}'s password (Enter alone to choose another name)`, mask: "•" });
  if (isCancel(answer)) {
    cancel("Not connected.");
    return undefined;
  }
  return answer ?? "";
}
