/**
 * The HTTP API meets moderation as a connection from the same address would: a post from an
 * address banned from a room, or muted there, is refused (403 banned, muted), and one banned from
 * the whole chat may post nowhere, privately neither. The bans are rows of the --store file's
 * shared state, written before the server starts, as a moderator's /ban would have left them.
 */
import { Database } from "bun:sqlite";
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { api, keyFile } from "./api-client";
import { startServer } from "./helpers";

const dir = mkdtempSync(join(tmpdir(), "chat-api-moderation-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A --store file with these restrictions on 127.0.0.1: [table, scope]. */
function storeWith(restrictions: ["bans" | "mutes", string][]): string {
  const file = join(dir, `store-${Math.random().toString(36).slice(2)}.db`);
  const db = new Database(file, { create: true });
  db.run(
    "CREATE TABLE state (tbl TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (tbl, key)) WITHOUT ROWID",
  );
  for (const [table, scope] of restrictions) {
    const row = {
      scope,
      kind: "address",
      target: "127.0.0.1",
      by: "mod",
      reason: "spam",
      at: new Date().toISOString(),
    };
    db.query("INSERT INTO state VALUES (?, ?, ?)").run(table, `${scope} address:127.0.0.1`, JSON.stringify(row));
  }
  db.close();
  return file;
}

const refusal = async (answer: Promise<Response>) => {
  const response = await answer;
  const body = (await response.json()) as { error?: { code: string; message: string } };
  return [response.status, body.error?.code ?? "none", body.error?.message ?? ""];
};
const post = (port: number, path: string) => api(port, path, { method: "POST", body: { text: "hello" } });

test("a post from an address banned from a room, or muted there, is refused as its connection's message would be; elsewhere it goes", async () => {
  const server = await startServer([
    "--api-keys",
    keyFile(dir),
    "--store",
    storeWith([
      ["bans", "dev"],
      ["mutes", "ops"],
    ]),
  ]);
  try {
    expect(await refusal(post(server.port, "/api/rooms/dev/messages"))).toEqual([
      403,
      "banned",
      "Your address is banned from dev by mod: spam.",
    ]);
    expect(await refusal(post(server.port, "/api/rooms/ops/messages"))).toEqual([
      403,
      "muted",
      "Your address is muted in ops: it may read there but not speak.",
    ]);
    expect((await post(server.port, "/api/rooms/qa/messages")).status).toBe(201);
  } finally {
    await server.stop();
  }
});

test("an address banned from the whole chat may post nowhere, privately neither", async () => {
  const server = await startServer(["--api-keys", keyFile(dir), "--store", storeWith([["bans", "*"]])]);
  try {
    for (const path of ["/api/rooms/qa/messages", "/api/people/bob/messages"]) {
      const [status, code, message] = await refusal(post(server.port, path));
      expect({ path, status, code }).toEqual({ path, status: 403, code: "banned" });
      expect(message).toContain("banned from this chat by mod");
    }
  } finally {
    await server.stop();
  }
});
