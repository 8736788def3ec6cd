/**
 * Opening a connection to the chat server, and every way that can fail, as a value: a machine
 * code for programs (FailureCode), whether trying again may help, and the words for the person
 * waiting. Runs in browsers and in Bun alike: nothing here knows of a command line or an exit
 * code, so the terminal client adds its own hints (how to start a server, which flag takes the
 * token) and exit codes in client/terminal/failures.ts.
 */
import { CLOSE_BANNED, CLOSE_KICKED, type NameRefusalCode } from "../../common/codes";
import { SUBPROTOCOL, tokenProtocol } from "../../common/events";
import { oneLine } from "../../common/text";

/** How long to wait for the server to accept a connection. */
export const CONNECT_TIMEOUT_MS = 10_000;

/**
 * Why a connection could not be made, or a session is over, for programs to branch on:
 * - nothing answered: `refused` (nothing listens at the port), `not-found` (no such host),
 *   `timeout`, `unreachable` (no route), `reset` (closed during the handshake), `handshake` (failed
 *   otherwise);
 * - something answered, but not our chat: `not-chat` (an HTTP answer, or another subprotocol),
 *   `not-tls` (wss:// to a plain server), `tls` (a certificate we do not trust);
 * - the server said no: `unauthorized` (401: the token), `forbidden` (403: the origin, or a ban), `rate-limited`
 *   (429), `full` (503), and, before letting us in, the name asked for (`name-invalid`,
 *   `name-taken`, `name-held`, as common/codes.ts);
 * - once in: `closed` (closed before letting us in), `policy` (closed with 1008, as a flooder),
 *   `kicked` and `banned` (closed by a moderator: the reason says who and why),
 *   `unsupported` (1003), `too-big` (1009), `lost` (dropped, with no reconnecting), `gave-up` (every
 *   reconnection attempt failed).
 */
export type FailureCode =
  | "refused"
  | "not-found"
  | "timeout"
  | "unreachable"
  | "reset"
  | "handshake"
  | "not-chat"
  | "not-tls"
  | "tls"
  | "unauthorized"
  | "forbidden"
  | "rate-limited"
  | "full"
  | NameRefusalCode
  | "closed"
  | "policy"
  | "kicked"
  | "banned"
  | "unsupported"
  | "too-big"
  | "lost"
  | "gave-up";

/** A failure to connect: what it was, for programs, and its words, for people. */
export class ConnectError extends Error {
  constructor(
    readonly code: FailureCode,
    /** The whole sentence, naming the server: "Could not connect to ws://…: the server is full (503). Try again later." */
    message: string,
    /** Whether trying again later may help (a full server) or cannot (a wrong token). */
    readonly retry: boolean,
    /** Why, without naming the server: for a line that names it already ("reconnecting: …"). */
    readonly reason = message,
  ) {
    super(message);
  }
}

/** The name asked for was refused on connecting (taken, or not a valid name): ask for another. */
export class NameRefusedError extends ConnectError {
  constructor(
    code: NameRefusalCode,
    /** The server's words, e.g. "The name 'tess' is taken; choose another." */
    readonly reason: string,
    readonly refusedName: string,
  ) {
    super(code, `Could not join as '${refusedName}': ${reason}`, false, reason);
  }
}

/**
 * Makes the WebSocket for one connection, asking for `protocol`, and offering `more` subprotocol
 * entries besides (a session token's, `session.<token>`: it is never echoed). A browser's
 * WebSocket cannot send headers, so by default the token goes as one more subprotocol entry; a
 * program whose WebSocket can send a header and trust a given certificate (Bun's) passes its own
 * maker, which offers `more` too (Bun's WebSocket takes `protocols: [protocol, ...more]`).
 */
export type OpenWebSocket = (
  url: string,
  protocol: string,
  token: string | undefined,
  more?: readonly string[],
) => WebSocket;

/** The standard WebSocket, the token (if any) as a subprotocol entry. */
export const standardWebSocket: OpenWebSocket = (url, protocol, token, more = []) => {
  const offered = [protocol, ...(token !== undefined ? [tokenProtocol(token)] : []), ...more];
  return new WebSocket(url, offered.length === 1 ? protocol : offered);
};

/** Where a server is, as the words and hints about it need it. */
export interface ServerAddress {
  /** The host, without the brackets of an IPv6 address. */
  host: string;
  port: number;
  /** On this machine: a hint may say how to start a server here. */
  local: boolean;
}

export function serverAddress(url: string): ServerAddress {
  const { hostname, port, protocol } = new URL(url);
  return {
    host: hostname.replace(/^\[|\]$/g, ""),
    port: Number(port) || (protocol === "wss:" ? 443 : 80),
    local: /^(localhost|127\.[\d.]+|\[::1\])$/.test(hostname),
  };
}

/** Opens a chat.v1.json connection to `url`; `shownUrl` is how messages name the server. */
export function openSocket(
  url: string,
  shownUrl: string,
  {
    token,
    openWebSocket = standardWebSocket,
    protocols = [],
  }: { token?: string; openWebSocket?: OpenWebSocket; protocols?: readonly string[] },
): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = openWebSocket(url, SUBPROTOCOL, token, protocols);
    const timer = setTimeout(() => {
      socket.close();
      reject(describeConnectFailure(shownUrl, url, "ETIMEDOUT", `no answer within ${CONNECT_TIMEOUT_MS / 1000} s`));
    }, CONNECT_TIMEOUT_MS);
    socket.addEventListener(
      "open",
      () => {
        clearTimeout(timer);
        if (socket.protocol === SUBPROTOCOL) return resolve(socket);
        socket.close();
        reject(
          new ConnectError(
            "not-chat",
            `Could not connect to ${shownUrl}: the server does not speak ${SUBPROTOCOL}. Is it this chat's server?`,
            false,
          ),
        );
      },
      { once: true },
    );
    socket.addEventListener(
      "error",
      (event) => {
        clearTimeout(timer);
        // Bun's error events carry the system's error code (ECONNREFUSED…); a browser's carry nothing.
        const code = ((event as globalThis.ErrorEvent).error as { code?: string } | undefined)?.code;
        const failure = describeConnectFailure(shownUrl, url, code, (event as globalThis.ErrorEvent).message ?? "");
        if (failure.code !== "forbidden") return reject(failure);
        void whyForbidden(url).then((why) =>
          reject(why ? new ConnectError("banned", `Could not connect to ${shownUrl}: ${why}`, false, why) : failure),
        );
      },
      { once: true },
    );
  });
}

/**
 * Why the server refused our upgrade with 403, if a ban is why: a WebSocket cannot read the
 * refusal's body, so the server's /auth says it again (who banned us, why, for how long).
 */
async function whyForbidden(url: string): Promise<string | undefined> {
  try {
    const auth = new URL("/auth", url.replace(/^ws/, "http"));
    const answer = await fetch(auth, { signal: AbortSignal.timeout(CONNECT_TIMEOUT_MS) });
    return answer.status === 403 ? (await answer.text()).trim() || undefined : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A failure to reach `url`, from the system's error code (ECONNREFUSED…) or the message: the code
 * for programs and the words for people. Also for a program's own probe of the port (the terminal
 * client's, before it asks for a name), so that both word a failure the same.
 */
export function describeConnectFailure(
  shownUrl: string,
  url: string,
  code: string | undefined,
  message: string,
): ConnectError {
  const fail = (failure: FailureCode, why: string, retry = true) =>
    new ConnectError(failure, `Could not connect to ${shownUrl}: ${why}`, retry, why);
  const { host, local } = serverAddress(url);
  switch (code) {
    case "ECONNREFUSED":
      return fail(
        "refused",
        local
          ? "connection refused. Is the server running?"
          : "connection refused. Is the server running, and is the port right?",
      );
    case "ENOTFOUND":
    case "EAI_NONAME":
      return fail("not-found", `the host '${host}' was not found. Check its spelling.`);
    case "ETIMEDOUT":
      return fail("timeout", "the connection timed out. Check the host and port, and any firewall between.");
    case "ECONNRESET":
      // A TLS server answers a plain handshake by closing: the likeliest mistake is the scheme.
      return url.startsWith("ws:")
        ? fail(
            "reset",
            `the server closed the connection during the handshake. If it serves TLS, use ${shownUrl.replace(/^ws:/, "wss:")}; otherwise, is it a chat server?`,
          )
        : fail("reset", "the server closed the connection during the handshake. Is it a chat server?");
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return fail("unreachable", "the host cannot be reached from here.");
  }
  // Bun words a refused handshake "WebSocket connection to '<url>' failed: Expected 101 status code: 404".
  const status = /Expected 101 status code: (\d+)/.exec(message)?.[1];
  if (status !== undefined) return describeRefusal(status, fail);
  // A plain server answers TLS's first message in plain HTTP, which TLS reads as a wrong version.
  if (url.startsWith("wss:") && /WRONG_VERSION_NUMBER|HTTP_REQUEST/i.test(message)) {
    return fail("not-tls", `the server does not speak TLS. Use ${shownUrl.replace(/^wss:/, "ws:")} instead.`, false);
  }
  if (/certificate|self.signed|UNABLE_TO_VERIFY|DEPTH_ZERO/i.test(`${message} ${code ?? ""}`)) {
    return fail("tls", `its TLS certificate is not trusted (${code ?? message}).`, false);
  }
  const detail = message.replace(/^WebSocket connection to '[^']*' failed: /, "") || "the WebSocket handshake failed";
  return fail("handshake", `${detail}${code ? ` (${code})` : ""}. Is it a chat server?`);
}

/** An HTTP status instead of the upgrade. */
function describeRefusal(
  status: string,
  fail: (failure: FailureCode, why: string, retry?: boolean) => ConnectError,
): ConnectError {
  switch (status) {
    case "401":
      return fail("unauthorized", "the server wants a valid token (401).", false);
    case "403":
      return fail(
        "forbidden",
        "the server refused us (403): it does not allow this origin, or this address is banned.",
        false,
      );
    // Both pass with time: a client that was in keeps trying, with backoff; a new one stops and says so.
    case "429":
      return fail(
        "rate-limited",
        "too many connections from this address, or opened too fast (429). Close some, or wait a moment and try again.",
      );
    case "503":
      return fail("full", "the server is full (503). Try again later.");
    default:
      return fail(
        "not-chat",
        `the server answered with HTTP status ${status} instead of a WebSocket. Is it a chat server, and is the path right?`,
      );
  }
}

/** A close that means "do not come back" (RFC 6455 §7.4.1 for the codes), as the session's end. */
export function finalClose({ code, reason: given }: { code: number; reason: string }): ConnectError | undefined {
  const reason = oneLine(given); // the server's words, on their way to a terminal
  const closed = (failure: FailureCode, why: string) =>
    new ConnectError(failure, `The server closed the connection: ${why}`, false);
  switch (code) {
    case 1008:
      return closed("policy", `${reason || "policy violation"}. Send more slowly.`);
    case 1003:
      return closed("unsupported", `${reason || CLOSE_MEANINGS[code]}.`);
    case 1009:
      return closed("too-big", `${reason || CLOSE_MEANINGS[code]}.`);
    // A moderator's words already say who and why; a kicked person may come back, by hand.
    case CLOSE_KICKED:
      return closed("kicked", `${reason || "kicked out by a moderator"}. You may connect again.`);
    case CLOSE_BANNED:
      return closed("banned", `${reason || "banned by a moderator"}.`);
    default:
      return undefined;
  }
}

const CLOSE_MEANINGS: Record<number, string> = {
  1000: "normal closure",
  1001: "server going away",
  1003: "unsupported data",
  1006: "connection lost without a close frame",
  1008: "policy violation",
  1009: "message too big",
  1011: "server error",
  1013: "try again later",
  [CLOSE_KICKED]: "kicked out by a moderator",
  [CLOSE_BANNED]: "banned by a moderator",
};

/** "code 1006, connection lost without a close frame": a close code and its meaning (RFC 6455 §7.4.1). */
export function describeClose({ code, reason }: { code: number; reason: string }): string {
  const meaning = oneLine(reason) || CLOSE_MEANINGS[code];
  return `code ${code}${meaning ? `, ${meaning}` : ""}`;
}
