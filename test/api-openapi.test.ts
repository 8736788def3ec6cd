/**
 * The OpenAPI document (GET /api/openapi.json) against what a real server answers: every operation
 * in it is asked in every way that gets a documented status (with a key and without, a wrong one,
 * bad input, too fast, too long, a full server), and each answer's status must be one it lists,
 * and each status it lists must come up; every route the server has (api.ts's table) is in it, and
 * every other path or method under /api/ is answered 404.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROUTES } from "../server/api/api";
import { type ApiAnswer, api, KEY, keyFile } from "./api-client";
import { type RunningServer, startServer, TestSocket } from "./helpers";

const dir = mkdtempSync(join(tmpdir(), "chat-openapi-"));
let server: RunningServer;
/** Keys with message budgets of their own (--burst 3 each), for the private messages. */
const OPS_KEY = "ops-key-0123456789abcdef";
const WEB_KEY = "web-key-0123456789abcdef";
// biome-ignore lint/suspicious/noExplicitAny: the document is whatever the server serves; the test asserts its shape
let document: any;

beforeAll(async () => {
  // --max-rooms 1: a post to a new room meets rooms-full (503); --rate 1 --burst 3: a fourth post
  // meets 429 (the private messages after it too).
  const args = [
    "--api-keys",
    keyFile(dir, { ci: KEY, ops: OPS_KEY, web: WEB_KEY }),
    "--max-rooms",
    "1",
    "--rate",
    "1",
    "--burst",
    "3",
    "--max-message",
    "50",
  ];
  server = await startServer([...args, "--api-streams", "1"]);
  const answer = await api(server.port, "/api/openapi.json", { key: null });
  expect(answer.status).toBe(200);
  document = await answer.json();
});
afterAll(async () => {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** "GET /api/rooms/{room}/messages" → the statuses seen. */
const seen = new Map<string, Set<number>>();

/** Asks `path` (a concrete one) as the operation `operation` ("POST /api/rooms/{room}/messages") and notes its status. */
async function ask(
  operation: string,
  path: string,
  options: { key?: string | null; body?: unknown; headers?: Record<string, string> } = {},
): Promise<ApiAnswer> {
  const method = operation.split(" ")[0]!;
  const { body, ...rest } = options;
  const answer = await api(server.port, path, { method, ...rest, ...(method === "POST" && { body }) });
  await answer.body?.cancel(); // An event stream would go on.
  if (!seen.has(operation)) seen.set(operation, new Set());
  seen.get(operation)!.add(answer.status);
  return answer;
}

/** Every operation of the document, as "METHOD /path". */
function operations(): string[] {
  return Object.entries(document.paths as Record<string, object>).flatMap(([path, item]) =>
    Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`),
  );
}

function documented(operation: string): number[] {
  const [method, path] = operation.split(" ") as [string, string];
  return Object.keys(document.paths[path][method.toLowerCase()].responses).map(Number);
}

describe("the OpenAPI document", () => {
  test("it is OpenAPI 3.1, and has every route the server has, and no other", () => {
    expect(document.openapi).toBe("3.1.0");
    expect(operations().sort()).toEqual(
      ["GET /api/openapi.json", ...ROUTES.map((route) => `${route.method} ${route.path}`)].sort(),
    );
  });

  test("every operation is answered with the statuses it lists, and each of them comes up", async () => {
    const wrong = "wrong-key-0123456789abcdef";
    // With the key: what goes right, and bad input.
    await ask("GET /api/openapi.json", "/api/openapi.json", { key: null });
    await ask("GET /api/rooms", "/api/rooms");
    await ask("GET /api/rooms/{room}/people", "/api/rooms/chat/people");
    await ask("GET /api/rooms/{room}/people", "/api/rooms/a%20b/people");
    await ask("GET /api/rooms/{room}/messages", "/api/rooms/chat/messages?before=5&limit=2");
    await ask("GET /api/rooms/{room}/messages", "/api/rooms/chat/messages?limit=0");
    await ask("GET /api/events", "/api/events?rooms=chat");
    await ask("GET /api/events", "/api/events?rooms=chat", { headers: { "Last-Event-ID": "no" } });
    const post = "POST /api/rooms/{room}/messages";
    await ask(post, "/api/rooms/chat/messages", { body: { text: "fine" } });
    await ask(post, "/api/rooms/dev/messages", { body: { text: "a new room, on a full server" } });
    await ask(post, "/api/rooms/chat/messages", { body: { text: "x".repeat(51) } });
    await ask(post, "/api/rooms/chat/messages", { body: "not json" });
    await ask(post, "/api/rooms/chat/messages", { body: { text: "too fast" } });
    const dm = "POST /api/people/{name}/messages";
    const bob = await TestSocket.open(`${server.url}/?name=bob`);
    await ask(dm, "/api/people/bob/messages", { key: OPS_KEY, body: { text: "hello bob" } });
    await ask(dm, "/api/people/nobody/messages", { key: OPS_KEY, body: { text: "not here" } });
    await ask(dm, "/api/people/no%20one/messages", { key: WEB_KEY, body: { text: "not a name" } });
    await ask(dm, "/api/people/bob/messages", { key: OPS_KEY, body: { text: "x".repeat(51) } });
    bob.close();
    // Without a key, and with a wrong one, until the address has no tries left.
    for (const operation of operations().filter((o) => !o.includes("openapi"))) {
      const path = operation.split(" ")[1]!.replace("{room}", "chat").replace("{name}", "bob");
      await ask(operation, path, { key: null, body: { text: "x" } });
      await ask(operation, path, { key: wrong, body: { text: "x" } });
    }
    for (let tries = 0; tries < 40; tries++) await ask("GET /api/rooms", "/api/rooms", { key: wrong });
    for (const operation of operations().filter((o) => !o.includes("openapi")))
      await ask(operation, operation.split(" ")[1]!.replace("{room}", "chat").replace("{name}", "bob"), {
        key: wrong,
        body: { text: "x" },
      });

    for (const operation of operations()) {
      const statuses = [...(seen.get(operation) ?? [])].sort();
      // Every answer is documented; every documented answer came, but 202 (a number that takes
      // over 10 s to come back from Redis) and a private message's 503 (a store that fails).
      for (const status of statuses)
        expect({ operation, status, documented: documented(operation).includes(status) }).toEqual({
          operation,
          status,
          documented: true,
        });
      const cannot = operation === "POST /api/people/{name}/messages" ? [503] : [202];
      const unseen = documented(operation).filter((status) => !statuses.includes(status) && !cannot.includes(status));
      expect({ operation, unseen }).toEqual({ operation, unseen: [] });
    }
  });

  test("any other path under /api/ is answered 404 not-found; a route asked with another method, 405 with Allow", async () => {
    const paths = [
      "/api",
      "/api/",
      "/api/room",
      "/api/rooms/chat",
      "/api/rooms/chat/messages/1",
      "/api/people",
      "/api/events/x",
    ];
    for (const path of paths) {
      const answer = await api(server.port, path, { key: KEY });
      expect({ path, status: answer.status, code: (await answer.json()).error?.code }).toEqual({
        path,
        status: 404,
        code: "not-found",
      });
    }
    for (const operation of operations()) {
      const path = operation.split(" ")[1]!.replace("{room}", "chat").replace("{name}", "bob");
      const methods = Object.keys(document.paths[operation.split(" ")[1]!]).map((m) => m.toUpperCase());
      for (const method of ["GET", "POST", "PUT", "PATCH", "DELETE"].filter((m) => !methods.includes(m))) {
        const answer = await api(server.port, path, { method, key: KEY });
        expect({ method, path, status: answer.status, allow: answer.headers.get("allow") }).toEqual({
          method,
          path,
          status: 405,
          allow: methods.join(", "),
        });
      }
    }
  });
});
