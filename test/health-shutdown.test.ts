/**
 * GET /healthz and /metrics, and a graceful shutdown on SIGTERM, against the real server.
 */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SUBPROTOCOL } from "../common/events";
import { startServer, TestSocket } from "./helpers";

describe("health, metrics and shutdown", () => {
  test("GET /healthz and /metrics", async () => {
    const server = await startServer();
    try {
      const client = await TestSocket.open(`${server.url}/?room=metered`);
      client.send("counted");
      await client.waitForChat(1);
      const health = await (await fetch(`http://127.0.0.1:${server.port}/healthz`)).json();
      expect(health).toEqual({ status: "ok", connections: 1, rooms: 2, uptime: expect.any(Number) });
      const metrics = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
      expect(metrics).toContain("# TYPE chat_connections gauge\nchat_connections 1\n");
      expect(metrics).toContain("chat_messages_received_total 1\n");
      expect(metrics).toContain("chat_deliveries_total 1\n");
      expect(metrics).toMatch(/chat_sent_bytes_total \d+/);
      expect(metrics).toContain('chat_refused_messages_total{reason="size"} 0\n');
      client.close();
    } finally {
      await server.stop();
    }
  });

  test("SIGTERM with clients attached: a notice, close 1001, the store written, exit 0", async () => {
    const dir = mkdtempSync(join(tmpdir(), "chat-term-"));
    const store = join(dir, "h.sqlite");
    try {
      const server = await startServer(["--store", store]);
      const text = await TestSocket.open(server.url);
      const json = await TestSocket.open(server.url, SUBPROTOCOL);
      for (let n = 0; n < 5; n++) text.send(`kept ${n}`);
      await json.waitForEvent("the last message", (e) => e.text === "kept 4");
      const started = Date.now();
      server.process.kill("SIGTERM");
      expect(await server.process.exited).toBe(0);
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(server.log()).toContain("Shutting down (SIGTERM)\n");
      expect(await text.waitForMessage("the notice", (m) => m.startsWith("*** The server"))).toBe(
        "*** The server is shutting down; reconnect in a moment.",
      );
      expect(await json.waitForEvent("the notice", (e) => e.type === "notice")).toMatchObject({
        event: "shutdown",
        room: "chat",
      });
      for (const socket of [text, json])
        expect([(await socket.waitForClose()).code, socket.closed!.reason]).toEqual([1001, "server shutting down"]);
      // Nobody is told of everybody else leaving: they are all about to come back.
      expect(json.events.filter((e) => e.type === "notice" && e.event === "leave")).toEqual([]);
      expect(text.messages.filter((m) => m.endsWith(" left chat"))).toEqual([]);
      const again = await startServer(["--store", store]);
      try {
        const late = await TestSocket.open(again.url);
        expect((await late.waitForChat(5)).map((m) => m.replace(/^\[history\] \S+: /, ""))).toEqual([
          "kept 0",
          "kept 1",
          "kept 2",
          "kept 3",
          "kept 4",
        ]);
        late.close();
      } finally {
        await again.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
