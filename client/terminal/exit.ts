/**
 * Leaving the client: exit codes only once what was printed has reached the OS, and the one way a
 * first connection that fails is reported (its words and exit code from failures.ts).
 */
import { ConnectError } from "../session/session";
import type { SessionOptions } from "../session/status";
import { describeFailure, EXIT_REFUSED, exitCodeFor } from "./failures";
import { type Accounts, type AskPassword, NotLoggedInError, type Opened, openLoggedIn } from "./login";

/** How long to let stdout drain before exiting anyway. */
const EXIT_WAIT_MS = 1_000;

/** Exits once what we wrote to stdout has been handed to the OS, so no output is cut off. */
export function exitAfterOutput(code: number): void {
  process.stdout.write("", () => process.exit(code));
  setTimeout(() => process.exit(code), EXIT_WAIT_MS).unref();
}

/**
 * Opens the session, logged in with the password given if the name is a registered one, or says
 * why not (on stderr, or through `report`) and exits.
 */
export async function openOrExit(
  options: SessionOptions,
  accounts: Accounts,
  report: (message: string) => void = (message) => void process.stderr.write(`${message}\n`),
): Promise<Opened | undefined> {
  let password = accounts.password;
  // The password given, once: a wrong one is not tried again.
  const once: AskPassword = async () => {
    const given = password;
    password = undefined;
    return given;
  };
  try {
    return await openLoggedIn(options, once, false);
  } catch (error) {
    if (error instanceof NotLoggedInError) {
      report(`${error.message}${loginHint(error)}`);
      exitAfterOutput(EXIT_REFUSED);
      return undefined;
    }
    if (!(error instanceof ConnectError)) throw error;
    report(describeFailure(error, options.url));
    exitAfterOutput(exitCodeFor(error.code));
    return undefined;
  }
}

/** What a script does about a refused login: the server's words say the rest (how long to wait…). */
function loginHint({ refusal, account }: NotLoggedInError): string {
  switch (refusal.code) {
    case "login-failed":
      return " Check the password given with --password-file or CHAT_PASSWORD.";
    case "name-registered":
    case "session-invalid":
      return " Log in to it with its password: --password-file FILE or CHAT_PASSWORD.";
    case "login-required":
      return account === undefined
        ? " Log in with --name NAME and the account's password: --password-file FILE or CHAT_PASSWORD."
        : " Log in with the account's password: --password-file FILE or CHAT_PASSWORD.";
    default:
      return "";
  }
}
