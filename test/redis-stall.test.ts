/**
 * A Redis that stops answering with its connections open (SIGSTOP, as a hung machine or a network
 * that drops everything would): the instances notice within seconds, serve their own people alone
 * (provisionally, budgets decided locally), and heal once it answers again, with nothing lost or
 * doubled. Real redis-server and server processes, each stopped by its pid.
 */
import { expect, test } from "bun:test";
import { SUBPROTOCOL } from "../common/events";
import { type RunningServer, startRedis, startServer, TestSocket, type WireEvent, waitFor } from "./helpers";

/** How long Redis stays stopped: longer than the link's deadline (4 s), so that the instances give up on it. */
const STALL_MS = 12_000;
/** An ordinary rate: 5 messages a second, well within the default per-address budget (20 a second). */
const EVERY_MS = 200;

const health = async (server: RunningServer) =>
  (await (await fetch(`http://127.0.0.1:${server.port}/healthz`)).json()) as { status: string; redis: string };

const texts = (socket: TestSocket) => socket.events.filter((e) => e.type === "message").map((e) => e.text as string);

const connections = (server: RunningServer) => server.log().match(/Redis: connected/g)?.length ?? 0;

test("Redis stopped with SIGSTOP: within seconds the instances serve their own people alone and say degraded; a client talking at an ordinary rate is neither refused nor closed; after SIGCONT everything reaches the other instance once", async () => {
  const redis = await startRedis();
  const instances: RunningServer[] = [];
  let stopped = false;
  try {
    for (let n = 0; n < 2; n++) instances.push(await startServer(["--redis", redis.url]));
    const [a, b] = instances as [RunningServer, RunningServer];
    for (const instance of instances) await instance.waitForLog(/Redis: connected/);
    const sayer = await TestSocket.open(a.url, SUBPROTOCOL);
    const watcher = await TestSocket.open(b.url, SUBPROTOCOL);
    const say = (text: string) => sayer.send(JSON.stringify({ type: "say", text, id: text }));
    say("before");
    await watcher.waitForEvent("the first message across", (e) => e.type === "message" && e.text === "before");
    const connectedBefore = [connections(a), connections(b)];

    process.kill(redis.pid, "SIGSTOP");
    stopped = true;
    const stoppedAt = Date.now();
    const said: string[] = [];
    const talking = (async () => {
      for (let n = 0; Date.now() - stoppedAt < STALL_MS && n < STALL_MS / EVERY_MS; n++) {
        said.push(`t${n}`);
        say(`t${n}`);
        await Bun.sleep(EVERY_MS);
      }
    })();
    // Within a bound, what is said comes back to its sender (provisionally), and /healthz says so.
    await waitFor(
      "a message said during the stall to come back to its sender",
      () =>
        sayer.events.some((e) => e.type === "message" && said.includes(e.text) && e.provisional) ? true : undefined,
      8_000,
    );
    for (const instance of [a, b])
      await waitFor(
        "both instances to say they are degraded",
        () => (/Redis: Redis at \S+ stopped answering/.test(instance.log()) ? true : undefined),
        Math.max(0, 8_000 - (Date.now() - stoppedAt)),
      );
    expect(await health(a)).toMatchObject({ status: "degraded", redis: "unreachable" });
    expect(await health(b)).toMatchObject({ status: "degraded", redis: "unreachable" });
    expect(Date.now() - stoppedAt).toBeLessThan(8_000);
    await talking;

    process.kill(redis.pid, "SIGCONT");
    stopped = false;
    for (const [i, instance] of [a, b].entries())
      await waitFor(
        "the instance to reconnect",
        () => (connections(instance) > connectedBefore[i]! ? true : undefined),
        20_000,
      );
    await waitFor(
      () => `every message said during the stall on the other instance (has ${texts(watcher).join(" ")})`,
      () => (said.every((t) => texts(watcher).includes(t)) ? true : undefined),
      15_000,
    );
    await Bun.sleep(500); // anything doubled would have come by now
    // The sender was never refused nor closed; each message reached each side once.
    const refused = sayer.events.filter((e: WireEvent) => e.type === "error");
    expect(refused).toEqual([]);
    expect(sayer.closed).toBeUndefined();
    expect(a.log()).not.toMatch(/flooding/);
    expect(texts(watcher).sort()).toEqual(["before", ...said].sort());
    expect(texts(sayer).sort()).toEqual(["before", ...said].sort());
    expect(a.log()).toMatch(/Redis: Redis at redis:\/\/127\.0\.0\.1:\d+ stopped answering/);
    expect(await health(a)).toMatchObject({ status: "ok", redis: "connected" });
    sayer.close();
    watcher.close();
  } finally {
    if (stopped) process.kill(redis.pid, "SIGCONT");
    for (const instance of instances) await instance.stop();
    await redis.stop();
  }
}, 90_000);
