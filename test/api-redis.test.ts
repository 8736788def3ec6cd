/**
 * The HTTP API with --redis: two instances sharing a real redis-server (started here on a free
 * port, stopped by its pid). A post on one reaches the other's WebSocket clients; an event stream
 * on one hears what is said on the other; a key made with `keys add --redis` works on both at once.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { api, EventStreamReader, keyFile } from "./api-client";
import { BUN, jsonClient, ROOT, type RunningServer, run, startRedis, startServer, TestSocket } from "./helpers";

const dir = mkdtempSync(join(tmpdir(), "chat-api-redis-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("with --redis, a post on instance A reaches a WebSocket client on B, marked as a bot; a stream on B hears A; a key made once works on both", async () => {
  const redis = await startRedis();
  const instances: RunningServer[] = [];
  try {
    for (let n = 0; n < 2; n++) instances.push(await startServer(["--redis", redis.url, "--api-keys", keyFile(dir)]));
    for (const instance of instances) await instance.waitForLog(/Redis: connected/);
    const [a, b] = instances as [RunningServer, RunningServer];

    const onB = await TestSocket.open(`${b.url}/?name=bea&room=dev`);
    const { socket: onA } = await jsonClient(a, "?name=ana&room=dev");
    const stream = await EventStreamReader.open(b.port, "?rooms=dev");
    await stream.waitForEvent("ready", (e) => e.data.type === "ready");

    const posted = await api(a.port, "/api/rooms/dev/messages", { method: "POST", body: { text: "build green" } });
    expect(posted.status).toBe(201);
    const { seq } = await posted.json();
    const line = await onB.waitForMessage("the post, on B", (m) => m.endsWith("build green"));
    expect(line).toMatch(/^ci \[bot\] \(127\.0\.0\.1:\d+\): build green$/);

    onA.send(JSON.stringify({ type: "say", text: "said on A" }));
    const heard = await stream.waitForEvent("A's message on B's stream", (e) => e.data.text === "said on A", 1_000);
    expect(heard.id).toBe(`dev:${seq + 1}`);
    // B's stream had the post too, once, with its number.
    expect(stream.events.filter((e) => e.data.text === "build green").map((e) => e.id)).toEqual([`dev:${seq}`]);
    // Who is in the room, asked of B, lists A's person too; B's history has A's messages.
    const people = await (await api(b.port, "/api/rooms/dev/people")).json();
    expect(people.people.map((u: { name: string }) => u.name).sort()).toEqual(["ana", "bea"]);
    const page = await (await api(b.port, "/api/rooms/dev/messages")).json();
    expect(page.messages.map((m: { text: string }) => m.text)).toEqual(["build green", "said on A"]);

    // A key made once, in Redis, works on every instance at once.
    const added = await run([BUN, join(ROOT, "server.ts"), "keys", "add", "deploy", "--redis", redis.url]);
    expect(added.exitCode).toBe(0);
    const key = added.stdout.trim();
    for (const instance of instances) expect((await api(instance.port, "/api/rooms", { key })).status).toBe(200);
    stream.close();
    onA.close();
    onB.close();
  } finally {
    for (const instance of instances) await instance.stop();
    await redis.stop();
  }
});
