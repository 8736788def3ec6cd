/**
 * The transport: Bun.serve and its WebSocket handler around the chat core. It serves the web page
 * and the plain HTTP answers, admits or refuses each upgrade, hands the core each connection's
 * opening, frames and closing, sweeps for slow readers now and then, and shuts down gracefully.
 * It throws a StartError instead of exiting when it cannot listen.
 */
import type { Server } from "bun";
import { StartError } from "../common/cli";
import { SUBPROTOCOL } from "../common/events";
import type { Admission } from "./admission";
import type { Chat } from "./chat";
import type { Limits } from "./config";
import type { Directory } from "./directory";
import { httpAnswer, type HttpContext } from "./http";
import type { Member } from "./member";
import type { Metrics } from "./metrics";
import type { Page } from "./page";
import { clientAddress } from "./proxy";

/** How often all readers are looked over for a backlog (a broadcast checks its room at once). */
const BACKLOG_CHECK_MS = 250;
/** Bun's hard limit on a reader's backlog, as a multiple of --max-backlog. */
const BACKSTOP = 4;
/** On shutting down, how long clients get to take their close frames before the server stops. */
const SHUTDOWN_GRACE_MS = 2_000;

export interface TransportParts {
  chat: Chat;
  admission: Admission;
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

export function listen(parts: TransportParts, options: ListenOptions): Transport {
  const { chat, admission } = parts;
  let server: Server<Member>;
  try {
    server = Bun.serve<Member>({
      hostname: options.host,
      port: options.port,
      ...(options.tls && { tls: options.tls }),
      // The page's scripts and styles (page.ts); the page itself is answered in fetch, beside the
      // upgrades on the same path. In an executable, Bun serves its built-in bundle at /, and
      // upgrades there still reach fetch.
      routes: options.page.html instanceof Response ? options.page.assets : { "/": options.page.html },
      development: false,
      // With `routes`, Bun turns SO_REUSEPORT on by default: a second server on the same port
      // would start and quietly take half the connections instead of saying the port is taken.
      // It is on only when asked for, for instances meant to share a port (with --redis).
      reusePort: options.reusePort,
      fetch: (request, server) => upgrade(request, server, parts, options),
      websocket: websocketHandler(parts),
    });
  } catch (error) {
    throw new StartError(describeListenError(error, `${hostInUrl(options.host)}:${options.port}`));
  }
  chat.hub = server;

  // Readers that fell behind on something other than a broadcast (their own replies) are swept up
  // now and then.
  const backlogCheck = setInterval(() => chat.sweepSlowReaders(), BACKLOG_CHECK_MS);

  return {
    url: `${options.tls ? "wss" : "ws"}://${hostInUrl(options.host)}:${server.port}`,
    port: server.port!,
    async shutDown() {
      clearInterval(backlogCheck);
      chat.closeAll();
      const deadline = Date.now() + SHUTDOWN_GRACE_MS;
      while (admission.connections > 0 && Date.now() < deadline) await Bun.sleep(20);
      server.stop(true);
    },
  };
}

/** A request that is not the page: an upgrade, admitted or refused, or a plain HTTP answer. */
function upgrade(request: Request, server: Server<Member>, parts: TransportParts, options: ListenOptions): Response | undefined {
  const { chat, admission, metrics, directory } = parts;
  if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") return httpAnswer(request, httpContext(server, { chat, admission, metrics, directory }, options));
  const peer = server.requestIP(request);
  const client = peer && clientAddress(request.headers, { ip: peer.address, port: peer.port }, parts.limits.trustedProxies);
  const ip = client?.ip ?? "unknown";
  const refused = admission.check(request, chat.budgets.of(ip));
  if (refused) {
    const headers = { "Content-Type": "text/plain; charset=utf-8", ...(refused.retryAfter !== undefined && { "Retry-After": String(refused.retryAfter) }) };
    return new Response(`${refused.reason}\n`, { status: refused.status, headers });
  }
  const query = new URL(request.url).searchParams;
  // RFC 6455 §4.2.2: the server picks one of the subprotocols the client offers, or none.
  const offered = (request.headers.get("sec-websocket-protocol") ?? "").split(",").map((p) => p.trim());
  const json = offered.includes(SUBPROTOCOL);
  const since = query.get("since");
  const asked = { name: query.get("name"), room: query.get("room"), since: since !== null && /^\d{1,15}$/.test(since) ? Number(since) : null, resume: query.get("resume") };
  const member = chat.newMember(client ? `${hostInUrl(client.ip)}:${client.port}` : "unknown", ip, json, asked);
  if (server.upgrade(request, { data: member, headers: json ? { "Sec-WebSocket-Protocol": SUBPROTOCOL } : {} })) return undefined;
  return new Response("Bad WebSocket handshake.\n", { status: 400 });
}

function httpContext(server: Server<Member>, { chat, admission, metrics, directory }: Omit<TransportParts, "limits">, options: ListenOptions): HttpContext {
  return {
    status: () => ({ connections: admission.connections, rooms: chat.rooms.count, uptime: metrics.uptimeSeconds, ...directory.health() }),
    metrics: () =>
      metrics.prometheus({
        connections: admission.connections,
        rooms: chat.rooms.count,
        historyBytes: chat.historyUsage.bytes,
        addresses: chat.budgets.size,
        unsentBytes: chat.readers.unsent,
      }),
    listening: `${hostInUrl(options.host)}:${server.port}`,
    page: options.page.html instanceof Response ? options.page.html : undefined,
    tls: options.tls !== undefined,
  };
}

function websocketHandler({ chat, admission, metrics, limits }: TransportParts): Bun.WebSocketHandler<Member> {
  return {
    maxPayloadLength: limits.maxFrame,
    idleTimeout: limits.idleTimeout,
    sendPings: true,
    // The core closes a slow reader with 1013 and a reason once it passes --max-backlog. Bun's own
    // limit, BACKSTOP times that, bounds memory should a single burst outrun it; Bun then closes
    // the reader (with a bare 1006) rather than drop messages for it silently: a client that is
    // closed resumes from history, one that lost messages would not know.
    backpressureLimit: BACKSTOP * limits.maxBacklog,
    closeOnBackpressureLimit: true,
    open(ws) {
      ws.data.socket = ws;
      admission.opened(ws.data.budget);
      chat.open(ws.data);
    },
    message(ws, message) {
      if (typeof message !== "string") {
        metrics.messagesIn++;
        // RFC 6455 §7.4.1: 1003 is for a data type the endpoint cannot accept.
        return ws.close(1003, "binary frames are not chat: send text");
      }
      chat.receive(ws.data, message);
    },
    close(ws, code, reason) {
      admission.closed(ws.data.budget);
      chat.closed(ws.data, code, reason);
    },
  };
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
