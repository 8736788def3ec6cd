/**
 * Leaving the client: exit codes only once what was printed has reached the OS, and the one way a
 * first connection that fails is reported (its words and exit code from failures.ts).
 */
import { ConnectError, type SessionOptions } from "../session/session";
import { describeFailure, EXIT_REFUSED, exitCodeFor } from "./failures";
import { LoginFailedError, type Opened, openLoggedIn, refusedAsRegistered } from "./login";

/** How long to let stdout drain before exiting anyway. */
const EXIT_WAIT_MS = 1_000;

/** Exits once what we wrote to stdout has been handed to the OS, so no output is cut off. */
export function exitAfterOutput(code: number): void {
  process.stdout.write("", () => process.exit(code));
  setTimeout(() => process.exit(code), EXIT_WAIT_MS).unref();
}

/**
 * Opens the session, logged in with `password` if the name is a registered one, or says why not
 * (on stderr, or through `report`) and exits.
 */
export async function openOrExit(
  options: SessionOptions,
  password: string | undefined,
  report: (message: string) => void = (message) => void process.stderr.write(`${message}\n`),
): Promise<Opened | undefined> {
  try {
    try {
      return await openLoggedIn(options, undefined);
    } catch (error) {
      if (!refusedAsRegistered(error) || password === undefined || options.name === undefined) throw error;
      return await openLoggedIn(options, { name: options.name, password });
    }
  } catch (error) {
    if (error instanceof LoginFailedError || refusedAsRegistered(error)) {
      report(
        error instanceof LoginFailedError
          ? `${error.message} Check the password given with --password-file or CHAT_PASSWORD.`
          : `${error.message} Log in to it with its password: --password-file FILE or CHAT_PASSWORD.`,
      );
      exitAfterOutput(EXIT_REFUSED);
      return undefined;
    }
    if (!(error instanceof ConnectError)) throw error;
    report(describeFailure(error, options.url));
    exitAfterOutput(exitCodeFor(error.code));
    return undefined;
  }
}
