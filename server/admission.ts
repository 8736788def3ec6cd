/**
 * Who may open a WebSocket: a browser page of an allowed origin, with the token if the server has
 * one, while the server has room and the address has not reached its share. It counts the open
 * connections, in all and per address, as the transport tells it of each opening and closing.
 */
import { timingSafeEqual } from "node:crypto";
import type { Limits } from "./config";
import type { Metrics } from "./metrics";

export interface Refusal {
  status: number;
  reason: string;
}

export class Admission {
  /** Open connections per IP address, for --max-per-ip. */
  readonly #perIp = new Map<string, number>();
  #connections = 0;

  constructor(
    private readonly limits: Limits,
    private readonly metrics: Metrics,
  ) {}

  get connections(): number {
    return this.#connections;
  }

  /** Why an upgrade from `ip` is refused, or undefined to let it through. */
  check(request: Request, ip: string): Refusal | undefined {
    // A browser names the page's origin; a page on another site must not use its visitors'
    // browsers to talk here (cross-site WebSocket hijacking). Clients that send no Origin
    // (terminals, scripts) are not browsers and are let through.
    const origin = request.headers.get("origin");
    if (origin !== null && !this.#originAllowed(origin, request)) {
      return this.#refuse("origin", 403, `Origin ${origin} is not allowed here; the server's operator can allow it with --allow-origin.`);
    }
    if (this.limits.token !== undefined && !this.#tokenMatches(request)) {
      return this.#refuse("token", 401, "A valid token is needed: pass it with --token or CHAT_TOKEN.");
    }
    if (this.#connections >= this.limits.maxClients) {
      return this.#refuse("full", 503, `The server is full (${this.limits.maxClients} connections); try again later.`);
    }
    if ((this.#perIp.get(ip) ?? 0) >= this.limits.maxPerIp) {
      return this.#refuse("perIp", 429, `Too many connections from ${ip} (${this.limits.maxPerIp} at most).`);
    }
    return undefined;
  }

  opened(ip: string): void {
    this.#connections++;
    this.#perIp.set(ip, (this.#perIp.get(ip) ?? 0) + 1);
  }

  closed(ip: string): void {
    this.#connections--;
    const left = (this.#perIp.get(ip) ?? 1) - 1;
    if (left === 0) this.#perIp.delete(ip);
    else this.#perIp.set(ip, left);
  }

  #refuse(reason: keyof Metrics["refusedConnections"], status: number, text: string): Refusal {
    this.metrics.refusedConnections[reason]++;
    return { status, reason: text };
  }

  #originAllowed(origin: string, request: Request): boolean {
    const allowed = this.limits.allowedOrigins;
    if (allowed.has("*") || allowed.has(origin)) return true;
    try {
      return new URL(origin).host === request.headers.get("host");
    } catch {
      return false;
    }
  }

  /** The token from `Authorization: Bearer`, or `?token=`, compared in constant time. */
  #tokenMatches(request: Request): boolean {
    const bearer = /^Bearer (.+)$/.exec(request.headers.get("authorization") ?? "")?.[1];
    const given = bearer ?? new URL(request.url).searchParams.get("token") ?? "";
    const [a, b] = [Buffer.from(given), Buffer.from(this.limits.token ?? "")];
    return a.length === b.length && timingSafeEqual(a, b);
  }
}
