/**
 * The transport: Bun.serve and its WebSocket handler around the chat core. It serves the web page
 * and the plain HTTP answers, admits or refuses each upgrade, hands the core each connection's
 * opening, frames and closing, sweeps for slow readers now and then, and shuts down gracefully.
 * It throws a StartError instead of exiting when it cannot listen.
 */

import { hostname, networkInterfaces } from "node:os";
import type { Server } from "bun";
import { SESSION_PROTOCOL } from "../common/account-events";
import { StartError } from "../common/cli";
import { SUBPROTOCOL } from "../common/events";
import { describeUser } from "../common/text";
import { Admission } from "./admission";
import { answerApi, isApiPath } from "./api/api";
import type { ApiClient, ApiParts } from "./api/call";
import type { AddressBudget } from "./budgets";
import type { Chat } from "./chat";
import type { Limits } from "./config";
import type { Directory } from "./directory";
import { type HttpContext, httpAnswer } from "./http";
import type { Logger } from "./log";
import type { Hub, Member, Upgrade } from "./member";
import type { Metrics } from "./metrics";
import type { Page } from "./page";
import { type ClientAddress, clientAddress } from "./proxy";

/** How often all readers are looked over for a backlog (a broadcast checks its room at once). */
const BACKLOG_CHECK_MS = 250;
/** Bun's hard limit on a reader's backlog, as a multiple of --max-backlog. */
const BACKSTOP = 4;
/** On shutting down, how long clients get to take their close frames before the server stops. */
const SHUTDOWN_GRACE_MS = 2_000;

/**
 * What a socket carries: what its upgrade admitted, and, from the moment it opens (Bun calls
 * `open` before any `message` or `close`), the member it is.
 */
type Connection = Upgrade | Member;

/**
 * The chat's pub/sub: Bun's Server once it listens. The chat is made, and its directory started,
 * before the server listens; until then nobody can be subscribed, and publishing reaches nobody.
 */
export class ServerHub implements Hub {
  server: Server<Connection> | undefined;

  publish(topic: string, frame: string): number {
    return this.server?.publish(topic, frame) ?? 0;
  }

  subscriberCount(topic: string): number {
    return this.server?.subscriberCount(topic) ?? 0;
  }
}

export interface TransportParts {
  /** The HTTP API, under /api/ (api/). */
  api: ApiParts;
  hub: ServerHub;
  log: Logger;
  chat: Chat;
  metrics: Metrics;
  directory: Directory;
  limits: Limits;
}

export interface ListenOptions {
  page: Page;
  host: string;
  port: number;
  tls: { cert: string; key: string } | undefined;
  reusePort: boolean;
}

export interface Transport {
  /** `ws://127.0.0.1:2000`, with the port chosen if 0 was asked for. */
  url: string;
  port: number;
  /** Tells everyone, closes every connection with 1001, and stops within SHUTDOWN_GRACE_MS. */
  shutDown(): Promise<void>;
}

/** The parts, and the admission the transport makes for them. */
type Context = TransportParts & { admission: Admission };

export async function listen(parts: TransportParts, options: ListenOptions): Promise<Transport> {
  const { chat } = parts;
  const page = options.page.html;
  let server: Server<Connection>;
  // The server's own origins need its port, known once it listens (before any request comes).
  let origins: Set<string> | undefined;
  const ownOriginsNow = () => (origins ??= ownOrigins(options.host, server.port!, options.tls !== undefined));
  const admission = new Admission(
    parts.limits,
    parts.metrics,
    ownOriginsNow,
    (addresses) => closeQuietest(chat, parts.log, addresses),
    (ip) => chat.moderation.admission(ip),
  );
  const context: Context = { ...parts, admission };
  try {
    server = Bun.serve<Connection>({
      hostname: options.host,
      port: options.port,
      ...(options.tls && { tls: options.tls }),
      // The page's scripts and styles (page.ts), as our own responses, in an executable too; the
      // page itself is answered in fetch, beside the upgrades on the same path.
      routes: options.page.assets,
      development: false,
      // With `routes`, Bun turns SO_REUSEPORT on by default: a second server on the same port
      // would start and quietly take half the connections instead of saying the port is taken.
      // It is on only when asked for, for instances meant to share a port (with --redis).
      reusePort: options.reusePort,
      // Only the API takes bodies: its messages, whose JSON may take six bytes for each of theirs.
      maxRequestBodySize: Math.max(parts.limits.maxFrame, 6 * parts.limits.maxMessage + 1024),
      fetch: (request, server) => answer(request, server, context, options, page),
      // Whatever throws while answering is one line in the bounded log and a bare 500, never a
      // stack trace written to stdout by each request that finds it.
      error: (error) => {
        parts.log.line(`Error answering a request: ${error instanceof Error ? error.message : String(error)}`);
        return new Response("Internal error.\n", {
          status: 500,
          headers: { "Content-Type": "text/plain; charset=utf-8" },
        });
      },
      websocket: websocketHandler(context),
    });
  } catch (error) {
    throw new StartError(describeListenError(error, `${hostInUrl(options.host)}:${options.port}`));
  }
  parts.hub.server = server;

  // Readers that fell behind on something other than a broadcast (their own replies) are swept up
  // now and then.
  const backlogCheck = setInterval(() => chat.sweepSlowReaders(), BACKLOG_CHECK_MS);

  return {
    url: `${options.tls ? "wss" : "ws"}://${hostInUrl(options.host)}:${server.port}`,
    port: server.port!,
    async shutDown() {
      clearInterval(backlogCheck);
      chat.closeAll();
      // The API's event streams end once they have the shutdown notice closeAll just told them.
      parts.api.streams.closeAll();
      const deadline = Date.now() + SHUTDOWN_GRACE_MS;
      while (admission.connections > 0 && Date.now() < deadline) await Bun.sleep(20);
      server.stop(true);
    },
  };
}

/** A request that is not one of the page's files: an upgrade, admitted or refused, or a plain HTTP answer. */
function answer(
  request: Request,
  server: Server<Connection>,
  context: Context,
  options: ListenOptions,
  page: Response | undefined,
): Response | Promise<Response> | undefined {
  // Bun joins two Host headers into one value, `a, b`, and takes the first for the URL: which one a
  // request is for is then anyone's guess (RFC 9112 §3.2 wants 400). No host name has a comma.
  if (request.headers.get("host")?.includes(","))
    return plain(400, "Bad request: more than one Host header, or a Host with a comma; send one host name (and port).");
  // Bun makes the request's URL from the Host header; a malformed one (`a b`, `[::1`) makes none.
  let url: URL;
  try {
    url = new URL(request.url);
  } catch {
    return plain(400, "Bad request: the Host header is not a host name (and port).");
  }
  if (isApiPath(url.pathname)) return answerApi(context.api, request, url, apiClient(request, server, context.limits));
  if (request.headers.get("upgrade")?.toLowerCase() !== "websocket")
    return httpAnswer(request, url, httpContext(server, context, options, page));
  return upgrade(request, url, server, context);
}

function upgrade(
  request: Request,
  url: URL,
  server: Server<Connection>,
  { chat, admission, limits }: Context,
): Response | undefined {
  const client = clientOf(request, server, limits);
  const ip = client.ip;
  const offered = (request.headers.get("sec-websocket-protocol") ?? "").split(",").map((p) => p.trim());
  const refused = admission.check(request, offered, chat.budgets.of(ip), ip);
  if (refused) return plain(refused.status, refused.reason, refused.retryAfter);
  const query = url.searchParams;
  // RFC 6455 §4.2.2: the server picks one of the subprotocols the client offers, or none. Ours is
  // chat.v1.json, exactly; anything else (and the token and session entries) is never echoed back.
  const json = offered.includes(SUBPROTOCOL);
  const since = query.get("since");
  const asked = {
    name: query.get("name"),
    room: query.get("room"),
    since: since !== null && /^\d{1,15}$/.test(since) ? Number(since) : null,
    resume: query.get("resume"),
    session: offered.find((entry) => entry.startsWith(SESSION_PROTOCOL))?.slice(SESSION_PROTOCOL.length) ?? null,
  };
  const address = client.port ? `${hostInUrl(client.ip)}:${client.port}` : client.ip;
  const upgrade: Upgrade = { address, ip, json, asked };
  // Left to itself, Bun echoes the first protocol offered, whatever it is; an empty header says none.
  if (server.upgrade(request, { data: upgrade, headers: { "Sec-WebSocket-Protocol": json ? SUBPROTOCOL : "" } }))
    return undefined;
  return plain(400, "Bad WebSocket handshake.");
}

/** Who sent `request`: its peer, or the client a trusted proxy names (proxy.ts). */
function clientOf(request: Request, server: Server<Connection>, limits: Limits): ClientAddress {
  const peer = server.requestIP(request);
  if (!peer) return { ip: "unknown", port: 0 };
  return clientAddress(
    request.headers,
    { ip: peer.address, port: peer.port },
    limits.trustedProxies,
    limits.proxyHeader,
  );
}

/** Who asked the API, and how to keep their request open (an event stream) past the idle timeout. */
function apiClient(request: Request, server: Server<Connection>, limits: Limits): ApiClient {
  const client = clientOf(request, server, limits);
  return {
    ip: client.ip,
    address: client.port ? `${hostInUrl(client.ip)}:${client.port}` : client.ip,
    keepOpen: () => server.timeout(request, 0),
  };
}

function plain(status: number, text: string, retryAfter?: number): Response {
  const headers = {
    "Content-Type": "text/plain; charset=utf-8",
    ...(retryAfter !== undefined && { "Retry-After": String(retryAfter) }),
  };
  return new Response(`${text}\n`, { status, headers });
}

/** The origins a page of this server has: see Admission.ownOrigins. */
function ownOrigins(host: string, port: number, tls: boolean): Set<string> {
  const scheme = tls ? "https" : "http";
  const loopback = ["127.0.0.1", "localhost", "[::1]"];
  const wildcard = host === "0.0.0.0" || host === "::";
  const hosts = new Set(wildcard || loopback.includes(hostInUrl(host)) ? loopback : [hostInUrl(host)]);
  if (wildcard) {
    for (const addresses of Object.values(networkInterfaces()))
      for (const { address } of addresses ?? []) hosts.add(hostInUrl(address.replace(/%.*$/, "")));
    hosts.add(hostname());
  }
  const defaultPort = tls ? 443 : 80;
  return new Set(
    [...hosts].flatMap((h) => [`${scheme}://${h}:${port}`, ...(port === defaultPort ? [`${scheme}://${h}`] : [])]),
  );
}

function httpContext(
  server: Server<Connection>,
  { chat, admission, metrics, directory, limits, api }: Context,
  options: ListenOptions,
  page: Response | undefined,
): HttpContext {
  return {
    banned: (request) => chat.moderation.admission(clientOf(request, server, limits).ip),
    hasToken: (request) => admission.tokenMatches(request, []),
    publicStatus: limits.publicStatus,
    waitBeforeTry: (request) => {
      const tries = chat.budgets.of(clientOf(request, server, limits).ip).connections;
      return tries.take() ? undefined : Math.max(1, Math.ceil(tries.waitMs() / 1000));
    },
    status: () => ({
      connections: admission.connections,
      rooms: chat.rooms.count,
      uptime: metrics.uptimeSeconds,
      ...directory.health(),
    }),
    metrics: () =>
      metrics.prometheus({
        connections: admission.connections,
        rooms: chat.rooms.count,
        historyBytes: chat.historyUsage.bytes,
        addresses: chat.budgets.size,
        unsentBytes: chat.readers.unsent,
        eventStreams: api.streams.size,
      }),
    listening: `${hostInUrl(options.host)}:${server.port}`,
    page,
    tls: options.tls !== undefined,
  };
}

function websocketHandler({ chat, admission, metrics, limits }: Context): Bun.WebSocketHandler<Connection> {
  return {
    maxPayloadLength: limits.maxFrame,
    idleTimeout: limits.idleTimeout,
    sendPings: true,
    // The core cuts off a slow reader once it passes --max-backlog (readers.ts). Bun's own limit,
    // BACKSTOP times that, bounds memory should a single burst outrun it; Bun then closes the
    // reader rather than drop messages for it silently: a client that is closed resumes from
    // history, one that lost messages would not know.
    backpressureLimit: BACKSTOP * limits.maxBacklog,
    closeOnBackpressureLimit: true,
    open(ws) {
      // What was known at the upgrade becomes a member, with its socket, now that it is open.
      const member = chat.newMember(ws, ws.data as Upgrade);
      member.heardAt = performance.now();
      ws.data = member;
      admission.opened(member.budget);
      chat.open(member);
    },
    message(ws, message) {
      (ws.data as Member).heardAt = performance.now();
      if (typeof message !== "string") {
        metrics.messagesIn++;
        // RFC 6455 §7.4.1: 1003 is for a data type the endpoint cannot accept.
        return ws.close(1003, "binary frames are not chat: send text");
      }
      chat.receive(ws.data as Member, message);
    },
    close(ws, code, reason) {
      const member = ws.data as Member;
      admission.closed(member.budget);
      chat.readers.closed(member, code);
      chat.closed(member, code, reason);
    },
  };
}

/**
 * On a full server, closes the connection of `addresses` (those holding the most) that has been
 * silent the longest, to let in someone from an address holding fewer (admission.ts).
 */
function closeQuietest(chat: Chat, log: Logger, addresses: ReadonlySet<AddressBudget>): boolean {
  let quietest: Member | undefined;
  for (const member of chat.connected()) {
    if (!addresses.has(member.budget) || !member.open) continue;
    if (!quietest || member.heardAt < quietest.heardAt) quietest = member;
  }
  if (!quietest) return false;
  log.line(`Closing ${describeUser(quietest.user)}: the server is full, and its address holds the most connections`);
  // RFC 6455 §7.4.1: 1013, try again later.
  quietest.socket.close(1013, "the server is full: your address holds the most connections; this one was the quietest");
  return true;
}

function describeListenError(error: unknown, where: string): string {
  switch ((error as { code?: string }).code) {
    case "EADDRINUSE":
      return `Could not listen on ${where}: the port is already in use. Stop the other server or pick another port with --port.`;
    case "EADDRNOTAVAIL":
      return `Could not listen on ${where}: this machine has no such address. Use one of its own addresses, e.g. --host 127.0.0.1.`;
    case "EACCES":
      return `Could not listen on ${where}: permission denied. Ports below 1024 need privileges; pick a higher one with --port.`;
    case "ENOTFOUND":
      return `Could not listen on ${where}: the host name does not resolve. Use an address such as 127.0.0.1.`;
    default:
      return `Could not listen on ${where}: ${error instanceof Error ? error.message : String(error)}.`;
  }
}

/** An IPv6 address goes in brackets wherever a port follows it (RFC 3986 §3.2.2). */
export function hostInUrl(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}
