/**
 * POST /api/people/{name}/messages: a private message from a key's name, marked as a bot, through
 * the one way in private messages have (server/private/), with real server processes and
 * WebSocket clients; and with --redis, from one instance to a person on another.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { api, keyFile } from "./api-client";
import { jsonClient, type RunningServer, settle, startRedis, startServer, TestSocket } from "./helpers";

const dir = mkdtempSync(join(tmpdir(), "chat-api-private-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const write = (port: number, name: string, text: string) =>
  api(port, `/api/people/${name}/messages`, { method: "POST", body: { text } });

test("a private message reaches its person, from the key's name marked as a bot, and nobody else: not a person who has the key's name, nor their /r", async () => {
  const server = await startServer(["--api-keys", keyFile(dir)]);
  try {
    const { socket: bob } = await jsonClient(server, "?name=bob");
    const plain = await TestSocket.open(`${server.url}/?name=carol`);
    // Someone who took the name the key has: the bot's private messages are not theirs.
    const { socket: ci } = await jsonClient(server, "?name=ci");
    const answer = await write(server.port, "bob", "your build is green");
    expect(answer.status).toBe(201);
    const sent = await answer.json();
    expect(sent).toEqual({ to: "bob", time: expect.any(String), id: expect.any(String) });
    const event = await bob.waitForEvent("the private message", (e) => e.type === "dm");
    expect(event).toEqual({
      type: "dm",
      from: { name: "ci", address: expect.stringMatching(/^127\.0\.0\.1:\d+$/), bot: true },
      to: { name: "bob", address: expect.any(String) },
      text: "your build is green",
      time: sent.time,
      id: sent.id,
    });
    expect((await write(server.port, "carol", "and yours")).status).toBe(201);
    const line = await plain.waitForMessage("carol's private line", (m) => m.startsWith("[private]"));
    expect(line).toMatch(/^\[private\] ci \[bot\] \(127\.0\.0\.1:\d+\) → carol: and yours$/);
    const nobody = await write(server.port, "dave", "hello?");
    expect([nobody.status, (await nobody.json()).error.code]).toEqual([404, "not-here"]);
    // /r cannot answer a bot: its name is anyone's here, and a reply must not reach them.
    bob.send(JSON.stringify({ type: "reply", text: "thanks!" }));
    const refused = await bob.waitForEvent("the refusal", (e) => e.type === "error");
    expect(refused.message).toContain("came from ci, a bot");
    // Whatever reached ci did so before a message of ci's own comes back to them.
    await settle(ci);
    expect(ci.events.filter((e) => e.type === "dm")).toEqual([]);
    for (const socket of [bob, plain, ci]) socket.close();
  } finally {
    await server.stop();
  }
});

test("with --redis, a private message posted on instance A reaches its person on B", async () => {
  const redis = await startRedis();
  const instances: RunningServer[] = [];
  try {
    for (let n = 0; n < 2; n++) instances.push(await startServer(["--redis", redis.url, "--api-keys", keyFile(dir)]));
    for (const instance of instances) await instance.waitForLog(/Redis: connected/);
    const [a, b] = instances as [RunningServer, RunningServer];
    const { socket: bob } = await jsonClient(b, "?name=bob");
    // A knows of bob once B has said he is there.
    let status = 0;
    for (let tries = 0; tries < 50 && status !== 201; tries++) {
      if (tries > 0) await Bun.sleep(100);
      status = (await write(a.port, "bob", "from A")).status;
    }
    expect(status).toBe(201);
    const event = await bob.waitForEvent("the private message from A", (e) => e.type === "dm");
    expect(event.from).toEqual({ name: "ci", address: expect.any(String), bot: true });
    bob.close();
  } finally {
    for (const instance of instances) await instance.stop();
    await redis.stop();
  }
});
