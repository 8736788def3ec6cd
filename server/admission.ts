/**
 * Who may open a WebSocket: an address that has not opened too many too fast and is not banned
 * from the chat, a browser page of an allowed origin, with the token if the server has one, while
 * the address has not reached --max-per-ip and the server has room. It counts the open connections, in all and per address
 * (prefix), as the transport tells it of each opening and closing.
 *
 * A full server still lets in a newcomer whose address holds at least two connections fewer than
 * the addresses holding the most: one of theirs, the one silent the longest, is closed (1013) to
 * make room. So a few addresses that take every slot lock nobody out; a full server settles with
 * every address within one connection of the others, and one that holds a single connection never
 * loses it to another.
 */
import { timingSafeEqual } from "node:crypto";
import { TOKEN_PROTOCOL } from "../common/events";
import type { AddressBudget } from "./budgets";
import type { Limits } from "./config";
import type { Metrics } from "./metrics";

export interface Refusal {
  status: number;
  reason: string;
  /** Seconds to wait before trying again, for the Retry-After header of a 429 or 503. */
  retryAfter?: number;
}

/** What a client is told to wait when the server or its address has no room for it. */
const FULL_RETRY_AFTER_S = 10;

/**
 * Closes the connection silent the longest among those of `addresses` (the addresses holding the
 * most), to make room for a newcomer; false if none of theirs could be closed.
 */
export type MakeRoom = (addresses: ReadonlySet<AddressBudget>) => boolean;

export class Admission {
  #connections = 0;
  /** The addresses with a connection open. */
  readonly #holders = new Set<AddressBudget>();

  constructor(
    private readonly limits: Limits,
    private readonly metrics: Metrics,
    /**
     * The origins of this server's own page: its scheme and listening address (for a loopback or
     * wildcard address, the names this machine answers to), with and without a default port; the
     * transport knows them once it listens, before any request comes.
     */
    private readonly ownOrigins: () => ReadonlySet<string>,
    private readonly makeRoom: MakeRoom,
    /** Why an address is banned from the chat (moderation/), or undefined: a map look-up or a few. */
    private readonly banned: (ip: string) => string | undefined = () => undefined,
  ) {}

  get connections(): number {
    return this.#connections;
  }

  /** Why an upgrade from the address of `budget` is refused, or undefined to let it through. */
  check(request: Request, offered: string[], budget: AddressBudget, ip: string): Refusal | undefined {
    // Every attempt costs, refused or not: an address that hammers only locks itself out.
    if (!budget.connections.take()) {
      const retryAfter = Math.max(1, Math.ceil(budget.connections.waitMs() / 1000));
      return this.#refuse(
        "connectRate",
        429,
        `Too many new connections from your address (${this.limits.ipConnectRate} a second at most); try again in ${retryAfter} s.`,
        retryAfter,
      );
    }
    // A banned person's new name does not help: their address is what is banned.
    const ban = this.banned(ip);
    if (ban) return this.#refuse("banned", 403, ban);
    // A browser names the page's origin; a page on another site must not use its visitors'
    // browsers to talk here (cross-site WebSocket hijacking). Clients that send no Origin
    // (terminals, scripts) are not browsers and are let through.
    const origin = request.headers.get("origin");
    if (origin !== null && !this.#originAllowed(origin)) {
      return this.#refuse(
        "origin",
        403,
        `Origin ${origin} is not allowed here; the server's operator can allow it with --allow-origin.`,
      );
    }
    if (!this.tokenMatches(request, offered)) {
      return this.#refuse("token", 401, "A valid token is needed: pass it with --token or CHAT_TOKEN.");
    }
    if (budget.open >= this.limits.maxPerIp) {
      return this.#refuse(
        "perIp",
        429,
        `Too many connections from ${budget.prefix} (${this.limits.maxPerIp} at most); close some, or try again later.`,
        FULL_RETRY_AFTER_S,
      );
    }
    if (this.#connections >= this.limits.maxClients && !this.#roomMadeFor(budget)) {
      return this.#refuse(
        "full",
        503,
        `The server is full (${this.limits.maxClients} connections); try again later.`,
        FULL_RETRY_AFTER_S,
      );
    }
    return undefined;
  }

  opened(budget: AddressBudget): void {
    this.#connections++;
    if (budget.open++ === 0) this.#holders.add(budget);
  }

  closed(budget: AddressBudget): void {
    this.#connections--;
    if (--budget.open === 0) this.#holders.delete(budget);
  }

  /**
   * On a full server: if the addresses holding the most hold at least two more than the
   * newcomer's, one of their connections is closed for it (see the top of this file).
   */
  #roomMadeFor(budget: AddressBudget): boolean {
    let most = 0;
    for (const holder of this.#holders) most = Math.max(most, holder.open);
    if (most < budget.open + 2) return false;
    const biggest = new Set([...this.#holders].filter((holder) => holder.open === most));
    if (!this.makeRoom(biggest)) return false;
    this.metrics.closedForRoom++;
    return true;
  }

  #refuse(reason: keyof Metrics["refusedConnections"], status: number, text: string, retryAfter?: number): Refusal {
    this.metrics.refusedConnections[reason]++;
    return { status, reason: text, ...(retryAfter !== undefined && { retryAfter }) };
  }

  /**
   * The origin must be one of the server's own or one allowed by --allow-origin, scheme and port
   * included. It is not compared with the Host header: a site that points its own name at this
   * server's address (DNS rebinding) sends a Host and an Origin that agree.
   */
  #originAllowed(origin: string): boolean {
    const allowed = this.limits.allowedOrigins;
    return allowed.has("*") || allowed.has(origin) || this.ownOrigins().has(origin);
  }

  /**
   * True if the server has no token, or the request carries it: as `Authorization: Bearer` (our
   * terminal client) or as a `token.` subprotocol entry (the page). Compared in constant time.
   */
  tokenMatches(request: Request, offered: string[]): boolean {
    if (this.limits.token === undefined) return true;
    const bearer = /^Bearer (.+)$/.exec(request.headers.get("authorization") ?? "")?.[1];
    const entry = offered.find((protocol) => protocol.startsWith(TOKEN_PROTOCOL));
    const given = bearer ?? (entry ? Buffer.from(entry.slice(TOKEN_PROTOCOL.length), "base64url").toString() : "");
    const [a, b] = [Buffer.from(given), Buffer.from(this.limits.token)];
    return a.length === b.length && timingSafeEqual(a, b);
  }
}
