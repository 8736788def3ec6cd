/**
 * What the API's routes are given: the parts of the server they use, and each request as a call,
 * with who made it, from where, with which key.
 */
import type { AddressBudget } from "../budgets";
import type { Chat } from "../chat";
import type { ApiKeys } from "./keys";
import type { ApiListeners } from "./listeners";
import type { EventStreams } from "./streams";

/** Who asked, as the transport saw them (a trusted proxy's header included). */
export interface ApiClient {
  ip: string;
  /** `ip:port`, as messages are tagged with. */
  address: string;
  /** Lifts the server's idle timeout for this request: an event stream is quiet at times. */
  keepOpen(): void;
}

/** What the routes use of the server. */
export interface ApiParts {
  chat: Chat;
  keys: ApiKeys;
  listeners: ApiListeners;
  streams: EventStreams;
}

/** One request to a route: its path's parameters, and who made it with which key. */
export interface Call {
  request: Request;
  url: URL;
  params: Record<string, string>;
  key: { name: string; hash: string };
  client: ApiClient;
  /** The budgets of the caller's address (prefix). */
  budget: AddressBudget;
}
