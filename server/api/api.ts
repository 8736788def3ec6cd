/**
 * The HTTP API, under /api/: programs post to rooms, read their history and who is there, and
 * follow them as Server-Sent Events, each request with `Authorization: Bearer <API key>`. This
 * file is the front door: the routes (the OpenAPI document, openapi.ts, describes the same ones,
 * and a test holds the two together), the key, and the refusals every route shares. What each
 * route does is in rooms.ts, events.ts and people.ts.
 *
 * A request without a key, or with a key the server does not know, costs its address what a new
 * connection costs, from the same budget (--ip-connect-rate), as a wrong token does at /auth: past
 * it, 429. So keys cannot be guessed at speed. A right key costs nothing here; what it does has
 * budgets of its own (the key's messages, the address's messages and replay).
 */

import type { AddressBudget } from "../budgets";
import type { Chat } from "../chat";
import { apiError, jsonAnswer, tooFast } from "./answers";
import type { ApiClient, ApiParts, Call } from "./call";
import { openEventStream } from "./events";
import { ApiKeys } from "./keys";
import { ApiListeners } from "./listeners";
import { OPENAPI } from "./openapi";
import { postPrivate } from "./people";
import { history, people, postMessage, roomList } from "./rooms";
import { EventStreams } from "./streams";

type Handler = (parts: ApiParts, call: Call) => Response | Promise<Response>;

export interface Route {
  method: "GET" | "POST";
  /** As in the OpenAPI document: `/api/rooms/{room}/messages`. */
  path: string;
  handle: Handler;
}

/** Every route but the document's own, which needs no key. */
export const ROUTES: Route[] = [
  { method: "GET", path: "/api/rooms", handle: roomList },
  { method: "GET", path: "/api/rooms/{room}/messages", handle: history },
  { method: "POST", path: "/api/rooms/{room}/messages", handle: postMessage },
  { method: "GET", path: "/api/rooms/{room}/people", handle: people },
  { method: "GET", path: "/api/events", handle: openEventStream },
  { method: "POST", path: "/api/people/{name}/messages", handle: postPrivate },
];
export const DOCUMENT_PATH = "/api/openapi.json";

/**
 * The API's parts, for `chat`: made before the chat starts, so that its keys are loaded with the
 * shared state, and its listeners hear the rooms from then on.
 */
export function makeApi(chat: Chat, options: { fileKeys: [string, string][]; streamsPerKey: number }): ApiParts {
  const { limits, clock, state, directory, metrics, log } = chat;
  const keys = new ApiKeys({
    state,
    fileKeys: options.fileKeys,
    rate: limits.rate,
    burst: limits.burst,
    clock,
    leases: directory.leases,
  });
  const listeners = new ApiListeners();
  const streams = new EventStreams({ listeners, directory, limits, metrics, log, perKey: options.streamsPerKey });
  keys.onRevoked((hash) => streams.revoked(hash));
  chat.listeners = listeners;
  return { chat, keys, listeners, streams };
}

/** Whether a request's path is the API's. */
export const isApiPath = (path: string) => path === "/api" || path.startsWith("/api/");

/** The answer to a request whose path is under /api/. */
export function answerApi(
  parts: ApiParts,
  request: Request,
  url: URL,
  client: ApiClient,
): Response | Promise<Response> {
  const path = url.pathname;
  // The document needs no key: a program reads it to learn how to ask for the rest.
  if (path === DOCUMENT_PATH)
    return request.method === "GET"
      ? jsonAnswer(OPENAPI, 200, { "Cache-Control": "public, max-age=60" })
      : wrongMethod(path, request.method, ["GET"]);
  const matching = ROUTES.map((route) => ({ route, params: match(route.path, path) })).filter(({ params }) => params);
  const found = matching.find(({ route }) => route.method === request.method);
  if (!found) {
    if (matching.length === 0)
      return apiError("not-found", `There is no ${path} here; GET ${DOCUMENT_PATH} describes the API.`);
    return wrongMethod(
      path,
      request.method,
      matching.map(({ route }) => route.method),
    );
  }
  const budget = parts.chat.budgets.of(client.ip);
  const key = keyOf(parts.keys, request);
  if ("refused" in key) return tryCosts(budget) ?? key.refused;
  return found.route.handle(parts, { request, url, params: found.params!, key, client, budget });
}

/** A route asked with a method it does not take: 405, with the methods it does take in Allow. */
function wrongMethod(path: string, method: string, methods: string[]): Response {
  return apiError("method-not-allowed", `${path} takes ${methods.join(" or ")}, not ${method}.`, {
    Allow: methods.join(", "),
  });
}

/** The path's parameters if `path` is of the route's pattern, decoded; undefined if not. */
function match(pattern: string, path: string): Record<string, string> | undefined {
  const want = pattern.split("/");
  const have = path.split("/");
  if (want.length !== have.length) return undefined;
  const params: Record<string, string> = {};
  for (const [i, part] of want.entries()) {
    const given = have[i]!;
    if (part.startsWith("{")) {
      if (given === "") return undefined;
      try {
        params[part.slice(1, -1)] = decodeURIComponent(given);
      } catch {
        return undefined;
      }
    } else if (part !== given) return undefined;
  }
  return params;
}

/** The request's key, known; or the refusal for none (401) or one the server does not know (403). */
function keyOf(keys: ApiKeys, request: Request): { name: string; hash: string } | { refused: Response } {
  const header = request.headers.get("authorization");
  const given = header === null ? undefined : /^Bearer +(\S+) *$/i.exec(header)?.[1];
  if (given === undefined) {
    // A header of another form is most often the key without its scheme: say what is missing.
    const words =
      header === null
        ? "The API needs a key: send Authorization: Bearer <key>."
        : "The Authorization header is not 'Bearer <key>': put 'Bearer ' before the key.";
    return { refused: apiError("unauthorized", words, { "WWW-Authenticate": 'Bearer realm="chat api"' }) };
  }
  const known = keys.nameOf(given);
  if (!known)
    return {
      refused: apiError("bad-key", "This server does not know that key (or it was revoked); ask its operator for one."),
    };
  return known;
}

/** A try at a key costs a new connection's worth: a 429 once the address has none left. */
function tryCosts(budget: AddressBudget): Response | undefined {
  if (budget.connections.take()) return undefined;
  return tooFast("Too many tries without a right key from your address.", budget.connections.waitMs());
}
