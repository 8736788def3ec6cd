/**
 * Getting into the chat on a terminal: a name (asked for unless given), and for a registered name
 * its password, asked for masked (or taken from --password-file or CHAT_PASSWORD), unless a login
 * kept from an earlier run (kept-logins.ts) does instead. A name the server refuses is asked for
 * again; any other failure is said, with its exit code.
 */
import { styleText } from "node:util";
import { cancel, isCancel, log, password, S_STEP_ERROR, spinner, text } from "@clack/prompts";
import { nameProblem, normalizeName } from "../../common/text";
import { ConnectError, NameRefusedError, type SessionOptions } from "../session/session";
import { checkListening } from "./bun-socket";
import { exitAfterOutput } from "./exit";
import { describeFailure, exitCodeFor } from "./failures";
import { type Accounts, type Login, LoginFailedError, type Opened, openLoggedIn, refusedAsRegistered } from "./login";

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
  if (accounts.forget && accounts.kept.get(options.url)) {
    const problem = accounts.kept.forget(options.url);
    log.info(problem ?? `Forgot the login kept for ${options.url}.`);
  }
  const kept = accounts.kept.get(options.url);
  let login: Login | undefined;
  if (kept && (options.name === undefined || sameName(kept.name, options.name))) {
    options = { ...options, name: kept.name };
    login = { session: kept.token };
  }
  let filePassword = accounts.password;

  // 2. A name, unless given, and the connection; a name the server refuses is asked for again,
  //    and a registered one's password.
  for (;;) {
    if (options.name === undefined) {
      const name = await askName();
      if (name === undefined) return void exitAfterOutput(0);
      options = { ...options, ...(name !== "" && { name }) };
    }
    const connecting = spinner();
    connecting.start(`Connecting to ${options.url}`);
    try {
      const opened = await openLoggedIn(options, login);
      connecting.stop(`Connected to ${options.url}${login ? ` and logged in as ${options.name}` : ""}`);
      return { opened, options };
    } catch (error) {
      const name = options.name ?? "";
      if (error instanceof LoginFailedError) connecting.error(error.reason);
      else if (refusedAsRegistered(error)) {
        const forgotten = login && "session" in login;
        if (forgotten) accounts.kept.forget(options.url);
        connecting.error(
          forgotten
            ? `The login kept for ${name} is no longer valid: log in again.`
            : `${name} is a registered name: log in to use it.`,
        );
      } else if (error instanceof NameRefusedError) {
        connecting.error(error.reason);
        options = { ...options, name: undefined };
        login = undefined;
        continue;
      } else if (error instanceof ConnectError) {
        connecting.error(describeFailure(error, options.url));
        return void exitAfterOutput(exitCodeFor(error.code));
      } else throw error;
      // A registered name: its password, from the command line's file once, then asked for.
      const secret = filePassword ?? (await askPassword(name));
      filePassword = undefined;
      if (secret === undefined) return void exitAfterOutput(0);
      if (secret === "") options = { ...options, name: undefined };
      login = secret === "" ? undefined : { name, password: secret };
    }
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
