/**
 * History as clients see it: the last messages replayed on entering a room, --history 0, and
 * --store surviving a restart; against the real server process.
 */
import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BUN, jsonClient, ROOT, RUN, run, settle, startServer, TestSocket } from "./helpers";

describe("history", () => {
  test("who enters a room first gets its last N messages, oldest first, marked as history", async () => {
    const server = await startServer(["--history", "3"]);
    try {
      const talker = await TestSocket.open(server.url);
      for (let n = 1; n <= 5; n++) talker.send(`message ${n}`);
      await talker.waitForChat(5);
      talker.send("/join elsewhere");
      talker.send("not in chat");
      await talker.waitForMessage("the elsewhere echo", (m) => m.endsWith(": not in chat"));

      const late = await TestSocket.open(server.url);
      late.send("live");
      const lines = await late.waitForChat(4);
      expect(lines.map((l) => l.replace(/127\.0\.0\.1:\d+/, "ADDR"))).toEqual([
        "[history] ADDR: message 3",
        "[history] ADDR: message 4",
        "[history] ADDR: message 5",
        "ADDR: live",
      ]);
      talker.close();
      late.close();
    } finally {
      await server.stop();
    }
  });

  test("--history 0 replays nothing", async () => {
    const server = await startServer(["--history", "0"]);
    try {
      const talker = await TestSocket.open(server.url);
      talker.send("said before");
      await talker.waitForChat(1);
      const late = await TestSocket.open(server.url);
      await settle(late);
      expect(late.chat.filter((m) => m.includes("said before"))).toEqual([]);
      talker.close();
      late.close();
    } finally {
      await server.stop();
    }
  });

  test("with --store, history and sequence numbers survive a restart", async () => {
    const dir = mkdtempSync(join(tmpdir(), "chat-store-"));
    const store = join(dir, "history.sqlite");
    try {
      const first = await startServer(["--store", store]);
      const { socket: before } = await jsonClient(first);
      for (const text of ["one", "two", "three"]) before.send(JSON.stringify({ type: "say", text }));
      const third = await before.waitForEvent("the third message", (e) => e.type === "message" && e.text === "three");
      expect(third.seq).toBe(3);
      first.process.kill("SIGTERM");
      expect(await first.process.exited).toBe(0);
      using db = new Database(store, { readonly: true });
      expect(db.query("PRAGMA journal_mode").get()).toEqual({ journal_mode: "wal" });
      expect(db.query("SELECT count(*) AS n FROM events").get()).toEqual({ n: 3 });

      const second = await startServer(["--store", store]);
      try {
        const { socket: after } = await jsonClient(second);
        const joined = await after.waitForEvent("joined", (e) => e.type === "joined");
        expect(joined.history).toBe(3);
        const replayed = await after.waitForEvent("the replay", (e) => e.text === "three");
        expect(after.events.filter((e) => e.history === true).map((e) => [e.seq, e.text])).toEqual([
          [1, "one"],
          [2, "two"],
          [3, "three"],
        ]);
        expect(replayed.history).toBe(true);
        after.send(JSON.stringify({ type: "say", text: "four" }));
        expect((await after.waitForEvent("the new message", (e) => e.text === "four")).seq).toBe(4);
        after.close();
      } finally {
        await second.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a store that cannot be opened is one clear line and exit code 1", async () => {
    const result = await run([BUN, join(ROOT, "server.ts"), "--port", "0", "--store", "/nonexistent/dir/h.sqlite"]);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toStartWith(`${RUN.server}: Could not open the history store '/nonexistent/dir/h.sqlite': `);
    expect(result.stderr).toEndWith("Check the path, or leave out --store to keep history in memory.\n");
  });
});

test("/older N gives the messages before N, at most --history of them, to a plain-text client too", async () => {
  const server = await startServer(["--history", "3", "--rate", "0", "--ip-rate", "0"]);
  try {
    const talker = await TestSocket.open(server.url);
    for (let i = 1; i <= 5; i++) talker.send(`m${i}`);
    await talker.waitForChat(5);
    talker.send("/older 5");
    const answer = await talker.waitForMessage("the earlier messages", (m) => m.startsWith("*** Earlier in chat:"));
    expect(answer.replace(/127\.0\.0\.1:\d+/g, "ADDR").split("\n")).toEqual([
      "*** Earlier in chat:",
      "[history] ADDR: m2",
      "[history] ADDR: m3",
      "[history] ADDR: m4",
    ]);
    talker.send("/older zero");
    expect(await talker.waitForMessage("the refusal", (m) => m.startsWith("*** Error"))).toBe(
      "*** Error: /older needs a message number, e.g. /older 120, not 'zero'.",
    );
    talker.close();
  } finally {
    await server.stop();
  }
});
