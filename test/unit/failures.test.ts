/**
 * A failure to connect as a value: the session library (client/session/connect.ts) gives a code,
 * whether to retry, and words a page can show, with no command line in them; the terminal client
 * (client/terminal/failures.ts) adds its hints and picks the README's exit code.
 */
import { expect, test } from "bun:test";
import { describeConnectFailure, finalClose, serverAddress } from "../../client/session/connect";
import { describeFailure, exitCodeFor, withHint } from "../../client/terminal/failures";
import { runCommand } from "../../common/run-command";

/** A failure as Bun reports it: the system's code, or the handshake's words. */
const failure = (url: string, code: string | undefined, message = "") =>
  describeConnectFailure(url, url, code, message);
const refusedStatus = (url: string, status: number) =>
  failure(url, undefined, `WebSocket connection to '${url}' failed: Expected 101 status code: ${status}`);

test("a refused port on this machine: the library names the code and the facts; the terminal says how to start a server", () => {
  const error = failure("ws://127.0.0.1:4321", "ECONNREFUSED");
  expect({ code: error.code, retry: error.retry, message: error.message }).toEqual({
    code: "refused",
    retry: true,
    message: "Could not connect to ws://127.0.0.1:4321: connection refused. Is the server running?",
  });
  expect(describeFailure(error, "ws://127.0.0.1:4321")).toBe(
    `Could not connect to ws://127.0.0.1:4321: connection refused. Is the server running? Start one with: ${runCommand("server")} --port 4321`,
  );
  expect(withHint(failure("ws://[::1]:4321", "ECONNREFUSED").reason, "refused", "ws://[::1]:4321")).toBe(
    `connection refused. Is the server running? Start one with: ${runCommand("server")} --host ::1 --port 4321`,
  );
  expect(exitCodeFor(error.code)).toBe(1);
  expect(serverAddress("wss://[::1]/")).toEqual({ host: "::1", port: 443, local: true });
});

test("a refused port elsewhere gets no command to start a server", () => {
  const error = failure("ws://chat.example:4321", "ECONNREFUSED");
  expect(describeFailure(error, "ws://chat.example:4321")).toBe(
    "Could not connect to ws://chat.example:4321: connection refused. Is the server running, and is the port right?",
  );
});

test("the server's refusals: codes, retry, and the command-line hint only from the terminal client", () => {
  const url = "ws://127.0.0.1:4321";
  const refusals = [401, 403, 429, 503].map((status) => refusedStatus(url, status));
  expect(refusals.map(({ code, retry }) => ({ code, retry }))).toEqual([
    { code: "unauthorized", retry: false },
    { code: "forbidden", retry: false },
    { code: "rate-limited", retry: true },
    { code: "full", retry: true },
  ]);
  expect(refusals.map(({ code }) => exitCodeFor(code))).toEqual([3, 3, 3, 3]);
  const [unauthorized] = refusals;
  expect(unauthorized!.message).toBe(`Could not connect to ${url}: the server wants a valid token (401).`);
  expect(describeFailure(unauthorized!, url)).toBe(
    `Could not connect to ${url}: the server wants a valid token (401). Pass it with --token or CHAT_TOKEN.`,
  );
});

test("an untrusted certificate: the flag that takes one is the terminal client's to name", () => {
  const url = "wss://127.0.0.1:4321";
  const error = failure(url, "DEPTH_ZERO_SELF_SIGNED_CERT", "self signed certificate");
  expect({ code: error.code, retry: error.retry }).toEqual({ code: "tls", retry: false });
  expect(error.message).not.toContain("--ca");
  expect(describeFailure(error, url)).toEndWith(
    "its TLS certificate is not trusted (DEPTH_ZERO_SELF_SIGNED_CERT). For a self-signed certificate, pass it with --ca FILE.",
  );
});

test("a close that means do not come back: a flooder exits 3, a frame too big exits 1", () => {
  const flooding = finalClose({ code: 1008, reason: "flooding" });
  expect({ code: flooding?.code, message: flooding?.message }).toEqual({
    code: "policy",
    message: "The server closed the connection: flooding. Send more slowly.",
  });
  expect(exitCodeFor(flooding!.code)).toBe(3);
  expect(exitCodeFor(finalClose({ code: 1009, reason: "" })!.code)).toBe(1);
  expect(finalClose({ code: 1006, reason: "" })).toBeUndefined();
});
