/**
 * Where the client connects and as whom, from its command line: the server's URL (from a URL,
 * `host:port`, a bare port, or --host/--port), a name and room checked as the server would, a CA
 * file, and the password of a registered name.
 */
import { parsePort, UsageError } from "../../common/cli";
import { nameProblem, normalizeName } from "../../common/text";

export const DEFAULT_URL = "ws://127.0.0.1:2000";

export function checkedName(given: string, flag: string, what: "name" | "room"): string {
  const value = normalizeName(given);
  const problem = nameProblem(value, what);
  if (problem) throw new UsageError(`${flag}: ${problem}`);
  return value;
}

/** Why a file could not be read, in words: the system's own codes mean little to most people. */
function unreadable(error: unknown): string {
  const code = (error as { code?: string }).code;
  if (code === "ENOENT") return "there is no such file";
  if (code === "EACCES" || code === "EPERM") return "you may not read it";
  if (code === "EISDIR") return "it is a folder";
  return code ?? String(error);
}

export async function readCa(file: string): Promise<string> {
  try {
    return await Bun.file(file).text();
  } catch (error) {
    throw new UsageError(`--ca '${file}' could not be read: ${unreadable(error)}.`);
  }
}

/**
 * The password to log in with: the first line of `file` (--password-file), or `environment`
 * (CHAT_PASSWORD); undefined if neither is given.
 */
export async function readPassword(
  file: string | undefined,
  environment: string | undefined,
): Promise<string | undefined> {
  if (file === undefined) return environment === "" ? undefined : environment;
  let content: string;
  try {
    content = await Bun.file(file).text();
  } catch (error) {
    throw new UsageError(`--password-file '${file}' could not be read: ${unreadable(error)}.`);
  }
  const password = content.split(/\r?\n/)[0] ?? "";
  if (password === "") throw new UsageError(`--password-file '${file}' is empty: its first line is the password.`);
  return password;
}

/**
 * The server's URL from the positional argument or --host/--port; `host:port` gets `ws://`, and a
 * bare port (`43001` or `:43001`) is one on this machine.
 */
export function serverUrl(given: string | undefined, host: string | undefined, port: string | undefined): string {
  if (given !== undefined && (host !== undefined || port !== undefined)) {
    throw new UsageError("Give either a URL or --host/--port, not both.");
  }
  // new URL() would read `43001` as the IPv4 address 0.0.167.249: a number alone is meant as a port.
  const barePort = given !== undefined ? /^:?(\d+)$/.exec(given)?.[1] : undefined;
  if (barePort !== undefined) return serverUrl(undefined, undefined, barePort);
  if (given === undefined) {
    const url = new URL(DEFAULT_URL);
    if (host !== undefined) url.hostname = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
    if (port !== undefined) url.port = String(parsePort(port, "The port"));
    return url.href.replace(/\/$/, "");
  }
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(given) ? given : `ws://${given}`;
  let url: URL;
  try {
    url = new URL(withScheme.replace(/^http(s?):/i, "ws$1:"));
  } catch {
    throw new UsageError(`'${given}' is not a valid URL; expected something like ${DEFAULT_URL}.`);
  }
  if (url.protocol !== "ws:" && url.protocol !== "wss:") {
    throw new UsageError(`'${given}' is not a WebSocket URL; use ws:// or wss://, e.g. ${DEFAULT_URL}.`);
  }
  // new URL() adds a "/" path; leave it off when the user did, so messages show the URL as typed.
  const bare = url.pathname === "/" && url.search === "" && url.hash === "" && !given.endsWith("/");
  return bare ? url.href.slice(0, -1) : url.href;
}
