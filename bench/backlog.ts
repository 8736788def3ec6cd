/**
 * How small can --max-backlog be before healthy readers are closed as slow in a burst?
 *
 * 32 clients each send 1000 messages of 4 KB as fast as they can; every client is a healthy reader
 * of all 32 000 (128 MB each). For each bound, in 3 runs: how many readers the server closed as
 * slow, and how many got every message. The default (8 MiB) should sit well above the largest bound
 * at which a healthy reader is ever closed.
 *
 * Usage: bun bench/backlog.ts
 */
import { join } from "node:path";

const CLIENTS = 32;
const MESSAGES = 1000;
const BODY = "x".repeat(4000);
const BOUNDS = [262_144, 1_048_576, 2_097_152, 4_194_304, 8_388_608];
const RUNS = 3;
/** A run that has not finished by then had readers closed (they do not reconnect here). */
const RUN_LIMIT_MS = 30_000;

async function run(bound: number): Promise<{ closed: number; complete: number; seconds: number }> {
  const server = Bun.spawn(
    [
      process.execPath,
      join(import.meta.dir, "..", "server.ts"),
      "--port",
      "0",
      "--quiet",
      "--rate",
      "0",
      "--history",
      "0",
      "--max-backlog",
      String(bound),
    ],
    { stdout: "pipe" },
  );
  try {
    const reader = server.stdout.getReader();
    let output = "";
    for (let reads = 0; reads < 100 && !/Listening on (ws:\/\/\S+)\n/.test(output); reads++)
      output += new TextDecoder().decode((await reader.read()).value);
    const url = /Listening on (ws:\/\/\S+)\n/.exec(output)![1]!;
    const sockets = await Promise.all(
      Array.from(
        { length: CLIENTS },
        () =>
          new Promise<WebSocket>((resolve) =>
            Object.assign(new WebSocket(url), {
              onopen(this: WebSocket) {
                resolve(this);
              },
            }),
          ),
      ),
    );
    const start = performance.now();
    let complete = 0;
    let closed = 0;
    await new Promise<void>((resolve) => {
      const settle = () => complete + closed === CLIENTS && resolve();
      for (const socket of sockets) {
        let received = 0;
        socket.onmessage = () => {
          if (++received !== CLIENTS * MESSAGES) return;
          complete++;
          settle();
        };
        socket.onclose = () => {
          closed++;
          settle();
        };
      }
      for (let n = 0; n < MESSAGES; n++) for (const socket of sockets) socket.send(`${n} ${BODY}`);
      setTimeout(resolve, RUN_LIMIT_MS);
    });
    const seconds = (performance.now() - start) / 1000;
    const metrics = await (await fetch(`${url.replace("ws://", "http://")}/metrics`)).text();
    for (const socket of sockets) socket.close();
    return {
      closed: Number(/chat_closed_connections_total\{reason="slow"\} (\d+)/.exec(metrics)![1]),
      complete,
      seconds,
    };
  } finally {
    server.kill();
    await server.exited;
  }
}

console.log(
  `${CLIENTS} clients x ${MESSAGES} messages of ${BODY.length} bytes, every client reading all; ${RUNS} runs per bound`,
);
for (const bound of BOUNDS) {
  const runs = [];
  for (let n = 0; n < RUNS; n++) runs.push(await run(bound));
  console.log(
    `--max-backlog ${String(bound).padStart(8)}:  closed as slow ${runs.map((r) => r.closed).join(", ")};` +
      `  readers with every message ${runs.map((r) => r.complete).join(", ")} of ${CLIENTS};  seconds ${runs.map((r) => r.seconds.toFixed(1)).join(", ")}`,
  );
}
