/**
 * What the server answers to plain HTTP requests: the page at / (its scripts and styles are
 * routes of their own), GET /healthz (JSON, for load balancers), GET /metrics (Prometheus' text
 * format), GET /auth (204 if the request has the token or the server wants none, else 401: the
 * page asks it whether to show its token field, and whether what was typed is right; 403 with the
 * ban's words to a banned address, which a client refused at the upgrade reads), and a 404
 * that says where the chat is. Only GET and HEAD are answered; with --token, /healthz and /metrics
 * want it too, unless --public-status. Every check of a token that fails costs what a new
 * connection does, from the same per-address budget, so that it cannot be guessed at speed
 * anywhere; the right token costs nothing at /healthz and /metrics, which load balancers poll.
 */
import { otherProgram } from "../common/cli";

export interface HttpContext {
  /** The page's HTML, when the server built it (not when Bun serves a compiled-in bundle). */
  page: Response | undefined;
  /** Open connections, rooms, and whether the chat is whole (the directory's health). */
  status(): { connections: number; rooms: number; uptime: number; degraded: boolean; redis?: string };
  metrics(): string;
  /** Why the request's address is banned from the chat, if it is: /auth says it to a refused client. */
  banned(request: Request): string | undefined;
  /** Whether the request carries the server's token (or the server has none). */
  hasToken(request: Request): boolean;
  /** True: /healthz and /metrics answer without the token. */
  publicStatus: boolean;
  /**
   * Spends one of the address's new-connection budget; when it has none left, the seconds until
   * it has one (for Retry-After).
   */
  waitBeforeTry(request: Request): number | undefined;
  /** For the 404's hint when a request has no Host header. */
  listening: string;
  tls: boolean;
}

export function httpAnswer(request: Request, url: URL, context: HttpContext): Response {
  const path = url.pathname;
  if (request.method !== "GET" && request.method !== "HEAD") {
    return new Response("Only GET and HEAD are answered here.\n", {
      status: 405,
      headers: { Allow: "GET, HEAD", "Content-Type": "text/plain; charset=utf-8" },
    });
  }
  if (path === "/" && context.page) return context.page.clone() as Response;
  // The page has its icon inline; other browsers' and tools' guesses at one get an empty answer, not a 404.
  if (path === "/favicon.ico")
    return new Response(null, { status: 204, headers: { "Cache-Control": "public, max-age=86400" } });
  if (path === "/auth") {
    // A client whose upgrade got 403 asks here why: a browser's WebSocket (and Bun's) cannot read
    // the refusal's body, which says who banned it, why and for how long.
    const ban = context.banned(request);
    if (ban) return new Response(`${ban}\n`, { status: 403, headers: { "Content-Type": "text/plain; charset=utf-8" } });
    // The page asks with every token typed, right or wrong: each check costs a try.
    return (
      tooManyTries(request, context) ??
      new Response(null, { status: context.hasToken(request) ? 204 : 401, headers: { "Cache-Control": "no-store" } })
    );
  }
  if ((path === "/healthz" || path === "/metrics") && !context.publicStatus && !context.hasToken(request)) {
    // A wrong token (or none) here is a guess as at /auth, and costs the same.
    return (
      tooManyTries(request, context) ??
      new Response("This server wants its token for /healthz and /metrics: send Authorization: Bearer <token>.\n", {
        status: 401,
        headers: { "Content-Type": "text/plain; charset=utf-8", "WWW-Authenticate": 'Bearer realm="chat"' },
      })
    );
  }
  if (path === "/healthz") {
    const { degraded, ...status } = context.status();
    return Response.json({ status: degraded ? "degraded" : "ok", ...status });
  }
  if (path === "/metrics")
    return new Response(context.metrics(), { headers: { "Content-Type": "text/plain; version=0.0.4" } });
  const where = request.headers.get("host") ?? context.listening;
  const [http, ws] = context.tls ? ["https", "wss"] : ["http", "ws"];
  return new Response(
    `Nothing here. The chat is at ${http}://${where}/ in a browser; terminal and WebSocket clients connect to ${ws}://${where}, for example:\n  ${otherProgram("client")} ${ws}://${where}\n`,
    { status: 404, headers: { "Content-Type": "text/plain; charset=utf-8" } },
  );
}

/** A 429 when the request's address has no try of its token left; undefined (a try spent) when it has. */
function tooManyTries(request: Request, context: HttpContext): Response | undefined {
  const wait = context.waitBeforeTry(request);
  if (wait === undefined) return undefined;
  return new Response(`Too many tries from your address; try again in ${wait} s.\n`, {
    status: 429,
    headers: { "Retry-After": String(wait), "Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store" },
  });
}
