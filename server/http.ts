/**
 * What the server answers to plain HTTP requests: the page at / (its scripts and styles are
 * routes of their own), GET /healthz (JSON, for load balancers), GET /metrics (Prometheus' text
 * format), and a 404 that says where the chat is.
 */
import { otherProgram } from "../common/cli";

export interface HttpContext {
  /** The page's HTML, when the server built it (not when Bun serves a compiled-in bundle). */
  page: Response | undefined;
  /** Open connections, rooms, and whether the chat is whole (the directory's health). */
  status(): { connections: number; rooms: number; uptime: number; degraded: boolean; redis?: string };
  metrics(): string;
  /** For the 404's hint when a request has no Host header. */
  listening: string;
  tls: boolean;
}

export function httpAnswer(request: Request, context: HttpContext): Response {
  const path = new URL(request.url).pathname;
  if (path === "/" && context.page && (request.method === "GET" || request.method === "HEAD")) return context.page.clone() as Response;
  if (path === "/healthz") {
    const { degraded, ...status } = context.status();
    return Response.json({ status: degraded ? "degraded" : "ok", ...status });
  }
  if (path === "/metrics") return new Response(context.metrics(), { headers: { "Content-Type": "text/plain; version=0.0.4" } });
  const where = request.headers.get("host") ?? context.listening;
  const [http, ws] = context.tls ? ["https", "wss"] : ["http", "ws"];
  return new Response(
    `Nothing here. The chat is at ${http}://${where}/ in a browser; terminal and WebSocket clients connect to ${ws}://${where}, for example:\n  ${otherProgram("client")} ${ws}://${where}\n`,
    { status: 404, headers: { "Content-Type": "text/plain; charset=utf-8" } },
  );
}
