/**
 * Paging back through a stored room as an attack: many addresses asking for `older` as fast as
 * their message budget lets them, in a room of big stored messages. Each page used to read its
 * whole --history of rows from the store however little its asker could be replayed; a bystander
 * in another room must keep its milliseconds.
 */
import { Database } from "bun:sqlite";
import { expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SUBPROTOCOL } from "../common/events";
import { startServer, TestSocket } from "./helpers";

const ROWS = 50;
const BIG = "x".repeat(60_000);

/** A --store file with ROWS messages of 60 KB in room `big`, written before the server starts. */
function storeWithBigRoom(file: string): void {
  const db = new Database(file, { create: true });
  db.run(`CREATE TABLE events (room TEXT NOT NULL, seq INTEGER NOT NULL, time TEXT NOT NULL, type TEXT NOT NULL,
    name TEXT, address TEXT NOT NULL, text TEXT NOT NULL, PRIMARY KEY (room, seq)) WITHOUT ROWID`);
  const insert = db.prepare("INSERT INTO events VALUES (?, ?, ?, 'message', 'filler', '10.0.0.1:1', ?)");
  const now = new Date().toISOString();
  db.transaction(() => {
    for (let seq = 1; seq <= ROWS; seq++) insert.run("big", seq, now, `${seq} ${BIG}`);
  })();
  db.close();
}

test("20 addresses paging back through big stored messages leave a bystander its milliseconds", async () => {
  const dir = mkdtempSync(join(tmpdir(), "chat-older-"));
  const store = join(dir, "store.db");
  storeWithBigRoom(store);
  const server = await startServer(["--quiet", "--store", store, "--trust-proxy", "127.0.0.1"]);
  const attackers: TestSocket[] = [];
  try {
    for (let a = 0; a < 20; a++) {
      const headers = { "X-Forwarded-For": `198.51.100.${a + 1}` };
      attackers.push(await TestSocket.open(`${server.url}/?room=big`, SUBPROTOCOL, 5_000, headers));
    }
    const bystander = await TestSocket.open(`${server.url}/?room=quiet`, SUBPROTOCOL);
    // Each address asks as fast as its message budget allows (20 a second), for 3 seconds.
    let stop = false;
    const attacks = attackers.map(async (socket) => {
      while (!stop) {
        socket.send(JSON.stringify({ type: "older", before: ROWS + 1 }));
        await Bun.sleep(55);
      }
    });
    const latencies: number[] = [];
    for (let n = 0; n < 25; n++) {
      const marker = `still here ${n}`;
      const sent = performance.now();
      bystander.send(JSON.stringify({ type: "say", text: marker }));
      await bystander.waitForMessage("the bystander's echo", (m) => m.includes(marker), 15_000);
      latencies.push(performance.now() - sent);
      await Bun.sleep(100);
    }
    stop = true;
    await Promise.all(attacks);
    latencies.sort((a, b) => a - b);
    const p50 = latencies[Math.floor(latencies.length / 2)]!;
    const p99 = latencies.at(-1)!;
    const pages = attackers.flatMap((s) => s.events.filter((e) => e.type === "earlier")).length;
    const refused = attackers.flatMap((s) => s.events.filter((e) => e.code === "rate-limited")).length;
    const closed = attackers.filter((s) => s.closed).length;
    console.log(
      `older from 20 addresses: ${pages} pages given, ${refused} refused; bystander p50 ${p50.toFixed(1)} ms, max ${p99.toFixed(1)} ms; ${closed} attackers closed`,
    );
    // Reading whole pages for every ask held the bystander's worst echo past 1.5 s; the bound is
    // wide of the 0.3 s measured since, as the machines running the tests are shared and noisy.
    expect(p50).toBeLessThan(100);
    expect(p99).toBeLessThan(800);
    expect(refused).toBeGreaterThan(0);
  } finally {
    for (const socket of attackers) socket.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);
