/**
 * Floods and slow readers against the real server: a flooder is closed, a reader that stops
 * reading is closed past --max-backlog, a silent peer past --idle-timeout; the others lose
 * nothing. Every loop is bounded in count and time.
 */
import { describe, expect, test } from "bun:test";
import { pipeClient, RawSocket, startServer, TestSocket, waitFor } from "./helpers";

describe("floods and slow readers", () => {
  test("a flooder is refused, then closed with 1008; a healthy client next to it keeps its full delivery", async () => {
    const server = await startServer(["--history", "0"]); // the default rate: 5 a second, 20 at once
    try {
      const flooder = await TestSocket.open(server.url);
      const healthy = await TestSocket.open(server.url);
      for (let n = 0; n < 60; n++) flooder.send(`flood ${n}`);
      const closed = await flooder.waitForClose();
      expect([closed.code, closed.reason]).toEqual([1008, "flooding: more than 5 messages a second"]);
      expect(flooder.messages.filter((m) => m.startsWith("*** Error: You are sending too fast")).length).toBe(19);
      for (let n = 0; n < 5; n++) {
        healthy.send(`healthy ${n}`);
        await Bun.sleep(50);
      }
      const own = await waitFor("the healthy client's messages", () => {
        const mine = healthy.chat.filter((m) => m.includes(": healthy "));
        return mine.length === 5 ? mine : undefined;
      });
      expect(own.map((m) => m.replace(/^.*: /, ""))).toEqual([
        "healthy 0",
        "healthy 1",
        "healthy 2",
        "healthy 3",
        "healthy 4",
      ]);
      expect(healthy.chat.filter((m) => m.includes(": flood "))).toHaveLength(20);
      const metrics = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
      expect(metrics).toContain('chat_refused_messages_total{reason="rate"} 20');
      expect(metrics).toContain('chat_closed_connections_total{reason="flooding"} 1');
      healthy.close();
    } finally {
      await server.stop();
    }
  });

  test("a client stopped with SIGSTOP is closed once its backlog passes --max-backlog; memory stays bounded; the healthy one loses nothing", async () => {
    const server = await startServer([
      "--quiet",
      "--history",
      "0",
      "--rate",
      "0",
      "--ip-rate",
      "0",
      "--max-backlog",
      "1048576",
    ]);
    const stopped = pipeClient(["--no-reconnect", "--name", "sleeper", server.url]);
    try {
      await server.waitForLog(/sleeper \(\S+\) joined chat/);
      stopped.proc.kill("SIGSTOP");
      const healthy = await TestSocket.open(server.url);
      const producer = await TestSocket.open(server.url);
      const rss = async () =>
        Number(/VmRSS:\s+(\d+)/.exec(await Bun.file(`/proc/${server.process.pid}/status`).text())![1]) * 1024;
      const before = await rss();
      // Send in batches of 3 MB until the server gives up on the sleeper. The kernel takes the first
      // tens of megabytes into its socket buffers (up to 32 MB here), so it takes a while; at most
      // 2000 messages, 120 MB.
      const chunk = "m".repeat(60_000);
      const closedAsSlow = /Closing sleeper \(\S+\): too slow, \d+ bytes waiting/;
      let count = 0;
      while (count < 2000 && !closedAsSlow.test(server.log())) {
        for (let n = 0; n < 50; n++) producer.send(`${count++} ${chunk}`);
        await healthy.waitForChat(count, 20_000); // a healthy reader keeps up
      }
      expect(server.log()).toMatch(closedAsSlow);
      const received = await healthy.waitForChat(count, 20_000);
      expect(received.map((m) => Number(m.split(": ")[1]!.split(" ")[0]))).toEqual(
        Array.from({ length: count }, (_, n) => n),
      );
      const grown = (await rss()) - before;
      expect(grown).toBeLessThan(150 * 1024 * 1024);
      await server.waitForLog(
        /Connection from sleeper \(\S+\) closed \((1013 too slow: messages piled up unread|1006)\)/,
      );
      const metrics = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
      expect(metrics).toContain('chat_closed_connections_total{reason="slow"} 1');
      healthy.close();
      producer.close();
    } finally {
      stopped.proc.kill("SIGCONT");
      stopped.proc.kill("SIGKILL");
      await server.stop();
    }
  }, 60_000);

  test("a peer that goes silent (no pongs, no close) is closed after --idle-timeout", async () => {
    const server = await startServer(["--idle-timeout", "2"]);
    try {
      const raw = await RawSocket.open(server.port);
      await waitFor("the server to give up on the silent peer", () => (raw.closed ? true : undefined), 15_000);
    } finally {
      await server.stop();
    }
  }, 20_000);
});
