/**
 * Leaving the client: exit codes only once what was printed has reached the OS, and the one way a
 * first connection that fails is reported (its words and exit code from failures.ts).
 */
import { ChatSession, ConnectError } from "../session/session";
import type { SessionOptions } from "../session/status";
import { describeFailure, exitCodeFor } from "./failures";

/** How long to let stdout drain before exiting anyway. */
const EXIT_WAIT_MS = 1_000;

/** Exits once what we wrote to stdout has been handed to the OS, so no output is cut off. */
export function exitAfterOutput(code: number): void {
  process.stdout.write("", () => process.exit(code));
  setTimeout(() => process.exit(code), EXIT_WAIT_MS).unref();
}

/** Opens the session, or says why not (on stderr, or through `report`) and exits. */
export async function openOrExit(
  options: SessionOptions,
  report: (message: string) => void = (message) => void process.stderr.write(`${message}\n`),
): Promise<ChatSession | undefined> {
  try {
    return await ChatSession.open(options);
  } catch (error) {
    if (!(error instanceof ConnectError)) throw error;
    report(describeFailure(error, options.url));
    exitAfterOutput(exitCodeFor(error.code));
    return undefined;
  }
}
