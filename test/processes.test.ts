/**
 * The processes the tests start die with the test run that started them: a run stopped with
 * Ctrl-C (or killed) must leave no redis-server or chat server behind on the machine.
 */
import { expect, test } from "bun:test";
import { join } from "node:path";
import { BUN, ROOT, waitFor } from "./helpers";

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test("a redis-server and a chat server started by a test process are gone once that process is killed", async () => {
  // A stand-in for a test run: it starts both, says their pids, and waits to be killed.
  const script = `
    import { startRedis, startServer } from ${JSON.stringify(join(ROOT, "test", "helpers.ts"))};
    const redis = await startRedis();
    const server = await startServer();
    console.log(JSON.stringify({ redis: redis.pid, server: server.process.pid }));
    await Bun.sleep(60_000);
  `;
  const run = Bun.spawn([BUN, "-e", script], { cwd: ROOT, stdout: "pipe", stderr: "inherit" });
  let text = "";
  void (async () => {
    for await (const chunk of run.stdout) text += new TextDecoder().decode(chunk);
  })();
  const pids = await waitFor(
    "the pids of the processes it started",
    () => {
      const line = /\{.*\}/.exec(text)?.[0];
      return line ? (JSON.parse(line) as { redis: number; server: number }) : undefined;
    },
    20_000,
  );
  expect(alive(pids.redis) && alive(pids.server)).toBe(true);
  run.kill("SIGTERM");
  await run.exited;
  try {
    await waitFor("both to be gone", () => (!alive(pids.redis) && !alive(pids.server) ? true : undefined), 5_000);
  } finally {
    for (const pid of [pids.redis, pids.server]) if (alive(pid)) process.kill(pid, "SIGKILL");
  }
}, 40_000);
