/**
 * Getting into the chat on a terminal: a name (asked for unless given), and for a registered name
 * its password, asked for masked (or taken from --password-file or CHAT_PASSWORD), unless a login
 * kept from an earlier run (kept-logins.ts) does instead. A name the server refuses is asked for
 * again; any other failure is said, with its exit code.
 */
import { styleText } from "node:util";
import { cancel, isCancel, log, password, S_STEP_ERROR, spinner, text } from "@clack/prompts";
import type { ErrorEvent } from "../../common/events";
import { nameProblem, normalizeName } from "../../common/text";
import { ConnectError, NameRefusedError } from "../session/session";
import type { SessionOptions } from "../session/status";
import { checkListening } from "./bun-socket";
import { exitAfterOutput } from "./exit";
import { describeFailure, exitCodeFor } from "./failures";
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
  //    and a registered one's password.
  let filePassword = accounts.password;
  for (;;) {
    if (options.name === undefined) {
      const name = await askName();
      if (name === undefined) return void exitAfterOutput(0);
      options = { ...options, ...(name !== "" && { name }) };
    }
    let connecting: ReturnType<typeof spinner> | undefined = spinner();
    connecting.start(`Connecting to ${options.url}`);
    /** Enter alone at the password: another name, rather than leaving. */
    let anotherName = false;
    const ask: AskPassword = async (name, refusal) => {
      const why = whyAsked(name, refusal);
      if (refusal.code === "session-invalid") accounts.kept.forget(options.url);
      if (connecting) connecting.error(why);
      else log.warn(why);
      connecting = undefined;
      // The command line's password first, once; it is not asked again after a wrong one.
      const secret = filePassword ?? (await askPassword(name));
      filePassword = undefined;
      anotherName = secret === "";
      return secret === "" ? undefined : secret;
    };
    try {
      const opened = await openLoggedIn(options, ask);
      const { account } = opened.session;
      const loggedIn = account !== null ? ` and logged in as ${account}` : "";
      if (connecting) connecting.stop(`Connected to ${options.url}${loggedIn}`);
      else log.success(`Connected to ${options.url}${loggedIn}`);
      return { opened, options };
    } catch (error) {
      if (error instanceof NotLoggedInError && anotherName) {
        options = { ...options, name: undefined };
        continue;
      }
      if (error instanceof NotLoggedInError) return void exitAfterOutput(0);
      if (error instanceof NameRefusedError) {
        connecting?.error(error.reason);
        options = { ...options, name: undefined };
        continue;
      }
      if (!(error instanceof ConnectError)) throw error;
      connecting?.error(describeFailure(error, options.url));
      return void exitAfterOutput(exitCodeFor(error.code));
    }
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

/** Why the password is asked for: the name is registered, the kept login was refused, or the last password was wrong. */
function whyAsked(name: string, refusal: ErrorEvent): string {
  switch (refusal.code) {
    case "session-invalid":
      return `The login kept for ${name} is no longer valid: log in again.`;
    case "login-failed":
    case "password-invalid":
    case "rate-limited":
    case "banned":
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
    log.message(describeFailure(error, url), { symbol: styleText("red", S_STEP_ERROR) });
    exitAfterOutput(exitCodeFor(error.code));
    return false;
  }
  checking.clear();
  return true;
}

/** Asks for a name: "" to go by the address only, undefined if the person left (Ctrl-C). */
async function askName(): Promise<string | undefined> {
  const answer = await text({
    message: "Your name",
    placeholder: "Enter to go by your address only",
    validate: (value) => (value && value.trim() !== "" ? nameProblem(normalizeName(value)) : undefined),
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
