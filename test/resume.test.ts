/**
 * The client against a server that goes away: a restart or a network cut (a proxy in the
 * middle) loses nothing and shows nothing twice.
 */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SUBPROTOCOL } from "../common/events";
import { CuttableLink, pipeClient, startServer, TestSocket, unusedPort, waitFor, waitForStored } from "./helpers";

describe("the client: nothing lost", () => {
  test("a server killed and restarted under a connected client: it reconnects and nothing is lost or doubled", async () => {
    const dir = mkdtempSync(join(tmpdir(), "chat-restart-"));
    const store = join(dir, "h.sqlite");
    const port = unusedPort();
    const args = ["--store", store, "--rate", "0", "--ip-rate", "0"];
    let server = await startServer([...args, "--port", String(port)]);
    const client = pipeClient(["--name", "stayer", `127.0.0.1:${port}`]);
    try {
      client.write("m1");
      await client.waitForOutput("m1 back", (o) => o.includes(": m1\n"));
      await waitForStored(store, "m1"); // SIGKILL gives the store no chance to write what is pending
      await server.stop(); // SIGKILL
      await client.waitForStderr("the reconnecting line", (e) =>
        /Connection lost \(code 1006.*\); reconnecting in [\d.]+ s \(attempt 1\)\./.test(e),
      );
      client.write("m2"); // typed while the server is down: queued
      server = await startServer([...args, "--port", String(port)]);
      await client.waitForStderr("the reconnection", (e) => e.includes(`Reconnected to ws://127.0.0.1:${port}.`));
      client.write("m3");
      client.proc.stdin.end();
      expect(await client.proc.exited).toBe(0);
      const said = client.out.stdout
        .split("\n")
        .filter((l) => /: m\d$/.test(l))
        .map((l) => l.slice(-2));
      expect(said).toEqual(["m1", "m2", "m3"]);
      const late = await TestSocket.open(`127.0.0.1:${port}`.replace(/^/, "ws://"), SUBPROTOCOL);
      const history = await waitFor("the history", () => {
        const replayed = late.events.filter((e) => e.history === true);
        return replayed.length >= 3 ? replayed : undefined;
      });
      expect(history.map((e) => [e.seq, e.text, e.from.name])).toEqual([
        [1, "m1", "stayer"],
        [2, "m2", "stayer"],
        [3, "m3", "stayer"],
      ]);
      late.close();
    } finally {
      client.proc.kill("SIGKILL");
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);

  test("after a network cut the client resumes: what it missed is replayed once, and a gap beyond history is counted", async () => {
    const server = await startServer(["--history", "3", "--rate", "0", "--ip-rate", "0"]);
    const proxy = new CuttableLink(server.port);
    const client = pipeClient(["--name", "cut", "--room", "blips", `127.0.0.1:${proxy.port}`]);
    try {
      await server.waitForLog(/cut \(\S+\) joined blips/);
      const talker = await TestSocket.open(`${server.url}/?room=blips&name=talker`);
      talker.send("before the cut");
      await client.waitForOutput("the first message", (o) => o.includes("before the cut"));
      proxy.cut();
      await client.waitForStderr("the client noticing", (e) => e.includes("Connection lost"));
      for (let n = 1; n <= 5; n++) talker.send(`during the cut ${n}`);
      await talker.waitForChat(6);
      proxy.restore();
      await client.waitForStderr("the reconnection", (e) => e.includes("Reconnected"));
      await client.waitForStderr("the count of missed messages", (e) =>
        e.includes("2 messages were missed while disconnected, too far back for the server's history."),
      );
      talker.send("after the cut");
      await client.waitForOutput("the live message", (o) => o.includes("after the cut"));
      const said = client.out.stdout
        .split("\n")
        .filter((l) => l.includes("talker (") && !l.startsWith("From server: ***"))
        .map((l) => l.replace(/^From server: (\[history\] )?talker \(\S+\): /, "$1"));
      expect(said).toEqual([
        "before the cut",
        "[history] during the cut 3",
        "[history] during the cut 4",
        "[history] during the cut 5",
        "after the cut",
      ]);
      talker.close();
    } finally {
      client.proc.kill("SIGKILL");
      proxy.stop();
      await server.stop();
    }
  }, 30_000);
});
