/**
 * Opening a connection to the chat server, and every way that can fail, worded for the person
 * waiting: a refused port says how to start a server, a 401 asks for the token, a close the
 * server meant says not to come back. Runs in Bun and in browsers.
 */
import { SUBPROTOCOL, tokenProtocol } from "../../common/events";
import { runCommand } from "../../common/run-command";
import { oneLine } from "../../common/text";

/** In Bun, a WebSocket takes headers and TLS options, and can ping; in a browser it can do neither. */
export const IN_BUN = typeof Bun !== "undefined";
/** Bun's WebSocket constructor, spelled out so that this file also compiles against the DOM's types. */
type BunWebSocket = new (
  url: string,
  options: { protocol: string; headers?: Record<string, string>; tls?: { ca: string } },
) => WebSocket;

/** How long to wait for the server to accept a connection. */
const CONNECT_TIMEOUT_MS = 10_000;
/** Exit code for a server that refused us: wrong token, origin not allowed, full, closed as a flooder. */
export const EXIT_REFUSED = 3;

/** A failure to connect, already worded for the user, with the exit code it deserves. */
export class ConnectError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
    readonly retry = true,
    /** Why, without naming the server: for a line that names it already ("reconnecting: …"). */
    readonly reason = message,
  ) {
    super(message);
  }
}

/** The name asked for was refused on connecting (taken, or not a valid name): ask for another. */
export class NameRefusedError extends ConnectError {
  constructor(
    /** The server's words, e.g. "The name 'tess' is taken; choose another." */
    readonly reason: string,
    readonly refusedName: string,
  ) {
    super(`Could not join as '${refusedName}': ${reason}`, EXIT_REFUSED, false);
  }
}

/** Opens a chat.v1.json connection to `url`; `shownUrl` is how messages name the server. */
export function openSocket(
  url: string,
  shownUrl: string,
  { token, ca }: { token?: string; ca?: string },
): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = IN_BUN
      ? new (WebSocket as unknown as BunWebSocket)(url, {
          protocol: SUBPROTOCOL,
          ...(token !== undefined && { headers: { Authorization: `Bearer ${token}` } }),
          ...(ca !== undefined && { tls: { ca } }),
        })
      : new WebSocket(url, token !== undefined ? [SUBPROTOCOL, tokenProtocol(token)] : SUBPROTOCOL);
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
            `Could not connect to ${shownUrl}: the server does not speak ${SUBPROTOCOL}. Is it this chat's server?`,
            1,
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
        const code = ((event as globalThis.ErrorEvent).error as { code?: string } | undefined)?.code;
        reject(describeConnectFailure(shownUrl, url, code, (event as globalThis.ErrorEvent).message ?? ""));
      },
      { once: true },
    );
  });
}

/**
 * Whether anything listens at `url`'s host and port: a TCP connection, closed at once, worded as
 * openSocket would word its failure. It costs the server nothing (no handshake, no log line, no
 * join and leave for the room to see), so the terminal can check before asking for a name. Bun only.
 */
export async function checkListening(url: string, shownUrl: string): Promise<void> {
  const { hostname, port, protocol } = new URL(url);
  let timer: Timer | undefined;
  const noAnswer = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(describeConnectFailure(shownUrl, url, "ETIMEDOUT", "")), CONNECT_TIMEOUT_MS);
  });
  try {
    const socket = await Promise.race([
      Bun.connect({
        hostname: hostname.replace(/^\[|\]$/g, ""),
        port: Number(port) || (protocol === "wss:" ? 443 : 80),
        socket: { data() {} },
      }),
      noAnswer,
    ]);
    socket.end();
  } catch (error) {
    if (error instanceof ConnectError) throw error;
    throw describeConnectFailure(shownUrl, url, (error as { code?: string }).code, String(error));
  } finally {
    clearTimeout(timer);
  }
}

function describeConnectFailure(
  shownUrl: string,
  url: string,
  code: string | undefined,
  message: string,
): ConnectError {
  const fail = (why: string, exitCode = 1, retry = true) =>
    new ConnectError(`Could not connect to ${shownUrl}: ${why}`, exitCode, retry, why);
  const { hostname, port } = new URL(url);
  const local = /^(localhost|127\.[\d.]+|\[::1\])$/.test(hostname);
  switch (code) {
    case "ECONNREFUSED":
      return fail(
        local
          ? `connection refused. Is the server running? Start one with: ${runCommand("server")}${hostFlag(hostname)} --port ${port || 80}`
          : "connection refused. Is the server running, and is the port right?",
      );
    case "ENOTFOUND":
    case "EAI_NONAME":
      return fail(`the host '${hostname}' was not found. Check its spelling.`);
    case "ETIMEDOUT":
      return fail("the connection timed out. Check the host and port, and any firewall between.");
    case "ECONNRESET":
      // A TLS server answers a plain handshake by closing: the likeliest mistake is the scheme.
      return url.startsWith("ws:")
        ? fail(
            `the server closed the connection during the handshake. If it serves TLS, use ${shownUrl.replace(/^ws:/, "wss:")}; otherwise, is it a chat server?`,
          )
        : fail("the server closed the connection during the handshake. Is it a chat server?");
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return fail("the host cannot be reached from here.");
  }
  // Bun words a refused handshake "WebSocket connection to '<url>' failed: Expected 101 status code: 404".
  const status = /Expected 101 status code: (\d+)/.exec(message)?.[1];
  if (status !== undefined) return describeRefusal(status, fail);
  // A plain server answers TLS's first message in plain HTTP, which TLS reads as a wrong version.
  if (url.startsWith("wss:") && /WRONG_VERSION_NUMBER|HTTP_REQUEST/i.test(message)) {
    return fail(`the server does not speak TLS. Use ${shownUrl.replace(/^wss:/, "ws:")} instead.`, 1, false);
  }
  if (/certificate|self.signed|UNABLE_TO_VERIFY|DEPTH_ZERO/i.test(`${message} ${code ?? ""}`)) {
    return fail(
      `its TLS certificate is not trusted (${code ?? message}). For a self-signed certificate, pass it with --ca FILE.`,
      1,
      false,
    );
  }
  const detail = message.replace(/^WebSocket connection to '[^']*' failed: /, "") || "the WebSocket handshake failed";
  return fail(`${detail}${code ? ` (${code})` : ""}. Is it a chat server?`);
}

/** The server's `--host` for a local address other than its default, 127.0.0.1. */
function hostFlag(hostname: string): string {
  return hostname === "127.0.0.1" || hostname === "localhost" ? "" : ` --host ${hostname.replace(/^\[|\]$/g, "")}`;
}

/** An HTTP status instead of the upgrade. */
function describeRefusal(
  status: string,
  fail: (why: string, exitCode?: number, retry?: boolean) => ConnectError,
): ConnectError {
  switch (status) {
    case "401":
      return fail("the server wants a valid token (401). Pass it with --token or CHAT_TOKEN.", EXIT_REFUSED, false);
    case "403":
      return fail("the server does not allow this origin (403).", EXIT_REFUSED, false);
    // Both pass with time: a client that was in keeps trying, with backoff; a new one stops and says so.
    case "429":
      return fail(
        "too many connections from this address, or opened too fast (429). Close some, or wait a moment and try again.",
        EXIT_REFUSED,
        true,
      );
    case "503":
      return fail("the server is full (503). Try again later.", EXIT_REFUSED, true);
    default:
      return fail(
        `the server answered with HTTP status ${status} instead of a WebSocket. Is it a chat server, and is the path right?`,
      );
  }
}

/** A close that means "do not come back": why, and the exit code. RFC 6455 §7.4.1 for the codes. */
export function finalClose({
  code,
  reason: given,
}: {
  code: number;
  reason: string;
}): { message: string; exitCode: number } | undefined {
  const reason = oneLine(given); // the server's words, on their way to a terminal
  switch (code) {
    case 1008:
      return {
        message: `The server closed the connection: ${reason || "policy violation"}. Send more slowly.`,
        exitCode: EXIT_REFUSED,
      };
    case 1003:
    case 1009:
      return { message: `The server closed the connection: ${reason || CLOSE_MEANINGS[code]}.`, exitCode: 1 };
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
};

/** "code 1006, connection lost without a close frame": a close code and its meaning (RFC 6455 §7.4.1). */
export function describeClose({ code, reason }: { code: number; reason: string }): string {
  const meaning = oneLine(reason) || CLOSE_MEANINGS[code];
  return `code ${code}${meaning ? `, ${meaning}` : ""}`;
}
