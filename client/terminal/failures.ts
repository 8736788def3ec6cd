/**
 * What the terminal client makes of a failure, which the session gives as a code
 * (client/session/connect.ts): the exit code (the README's "Exit codes"), and the hint only a
 * command line can give: the command that starts a server here, the flag that takes the token.
 */
import { runCommand } from "../../common/run-command";
import { type ConnectError, type FailureCode, serverAddress } from "../session/connect";

/** Exit code for a server that refused us: wrong token, origin not allowed, full, the name, closed as a flooder or by a moderator. */
const EXIT_REFUSED = 3;

/** Every code is here, so that a new one cannot be added without choosing its exit code. */
const EXIT_CODES: Record<FailureCode, 1 | typeof EXIT_REFUSED> = {
  refused: 1,
  "not-found": 1,
  timeout: 1,
  unreachable: 1,
  reset: 1,
  handshake: 1,
  "not-chat": 1,
  "not-tls": 1,
  tls: 1,
  unauthorized: EXIT_REFUSED,
  forbidden: EXIT_REFUSED,
  "rate-limited": EXIT_REFUSED,
  full: EXIT_REFUSED,
  "name-invalid": EXIT_REFUSED,
  "name-taken": EXIT_REFUSED,
  "name-held": EXIT_REFUSED,
  closed: 1,
  policy: EXIT_REFUSED,
  kicked: EXIT_REFUSED,
  banned: EXIT_REFUSED,
  unsupported: 1,
  "too-big": 1,
  lost: 1,
  "gave-up": 1,
};

/** The exit code for a failure: 3 when the server refused us, 1 when anything else went wrong. */
export function exitCodeFor(code: FailureCode): number {
  return EXIT_CODES[code];
}

/** A failure to connect to `url`, as the terminal client words it: the session's words and our hint. */
export function describeFailure(error: ConnectError, url: string): string {
  return withHint(error.message, error.code, url);
}

/** The session's `words` about a failure at `url` (a status's reason or message), with our hint after them. */
export function withHint(words: string, code: FailureCode, url: string): string {
  return `${words}${hint(code, url)}`;
}

function hint(code: FailureCode, url: string): string {
  switch (code) {
    case "refused": {
      const { host, port, local } = serverAddress(url);
      if (!local) return "";
      // The server listens on 127.0.0.1 unless told otherwise.
      const hostFlag = host === "127.0.0.1" || host === "localhost" ? "" : ` --host ${host}`;
      return ` Start one with: ${runCommand("server")}${hostFlag} --port ${port}`;
    }
    case "unauthorized":
      return " Pass it with --token or CHAT_TOKEN.";
    case "tls":
      return " For a self-signed certificate, pass it with --ca FILE.";
    default:
      return "";
  }
}
