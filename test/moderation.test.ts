/**
 * Moderation end to end: real server processes, real sockets, a real redis-server. Several people
 * come from different addresses through a trusted proxy's X-Forwarded-For (as in
 * open-network.test.ts); an operator (--ops) and room owners log in to registered names.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CLOSE_BANNED, CLOSE_KICKED } from "../common/codes";
import { SUBPROTOCOL } from "../common/events";
import {
  BUN,
  ROOT,
  type RunningServer,
  run,
  startRedis,
  startServer,
  TestSocket,
  type WireEvent,
  waitFor,
} from "./helpers";

const PASSWORD = "correct-horse-battery";
const upgradeHeaders = {
  Upgrade: "websocket",
  Connection: "Upgrade",
  "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
  "Sec-WebSocket-Version": "13",
};

/** Everything a test started, stopped after it whatever happened. */
const started: { stop(): unknown }[] = [];
afterEach(async () => {
  for (const thing of started.splice(0).reverse()) await thing.stop();
});

async function server(args: string[] = []): Promise<RunningServer> {
  const running = await startServer(["--quiet", "--trust-proxy", "127.0.0.1", "--ops", "root", ...args]);
  started.push(running);
  return running;
}

interface Person {
  socket: TestSocket;
  run(command: object): void;
  /** Waits for an event of `type` (matching `check`) that came after the last one taken. */
  next(type: string, check?: (event: WireEvent) => boolean): Promise<WireEvent>;
}

/**
 * Someone connecting from `ip` as `name` (into `room`), who registers their name if `registered`
 * (or logs in to it, if it is registered already: `login`).
 */
async function person(
  at: RunningServer,
  name: string,
  ip: string,
  { room, registered = false, login = false }: { room?: string; registered?: boolean; login?: boolean } = {},
): Promise<Person> {
  const query = `?${login ? "" : `name=${name}&`}${room ? `room=${room}` : ""}`;
  const socket = await TestSocket.open(`${at.url}/${query}`, SUBPROTOCOL, 5_000, { "X-Forwarded-For": ip });
  started.push({ stop: () => socket.close() });
  let seen = 0;
  const next = async (type: string, check: (event: WireEvent) => boolean = () => true) => {
    const found = await waitFor(
      `${name}'s ${type} event (had ${JSON.stringify(socket.events.slice(-3))})`,
      () => {
        const index = socket.events.findIndex((e, i) => i >= seen && e.type === type && check(e));
        return index < 0 ? undefined : index;
      },
      8_000,
    );
    seen = found + 1;
    return socket.events[found]!;
  };
  const who: Person = { socket, run: (command) => socket.send(JSON.stringify(command)), next };
  await next("joined");
  if (registered) who.run({ type: "register", password: PASSWORD });
  if (login) who.run({ type: "login", name, password: PASSWORD });
  if (registered || login) await next("account");
  return who;
}

/** The status and body an upgrade from `ip` is answered with, when it is not let in. */
async function upgradeFrom(at: RunningServer, ip: string): Promise<{ status: number; body: string }> {
  const response = await fetch(`http://127.0.0.1:${at.port}/?name=someone-new`, {
    headers: { ...upgradeHeaders, "X-Forwarded-For": ip },
  });
  return { status: response.status, body: response.status === 101 ? "" : await response.text() };
}

describe("an operator", () => {
  test("kicks a guest (who may come back), then bans them: their reconnect under a new name is refused with 403", async () => {
    const chat = await server();
    const root = await person(chat, "root", "198.51.100.1", { registered: true });
    const gus = await person(chat, "gus", "203.0.113.7");
    root.run({ type: "kick", name: "gus", reason: "calm down" });
    const kicked = await gus.socket.waitForClose();
    expect([kicked.code, kicked.reason]).toEqual([CLOSE_KICKED, "You were kicked out of the chat by root: calm down"]);
    expect(gus.socket.events.at(-1)).toMatchObject({ type: "notice", event: "moderation", text: kicked.reason });
    await root.next("notice", (e) => e.text === "gus was kicked out of the chat by root: calm down");

    const back = await person(chat, "gus", "203.0.113.7");
    root.run({ type: "ban", target: "gus", duration: "2h", reason: "spam" });
    const banned = await back.socket.waitForClose();
    expect([banned.code, banned.reason]).toEqual([
      CLOSE_BANNED,
      "You were banned from this chat by root (2 h more): spam",
    ]);
    expect(await upgradeFrom(chat, "203.0.113.7")).toEqual({
      status: 403,
      body: "You are banned from this chat by root (2 h more): spam.\n",
    });
    expect((await upgradeFrom(chat, "203.0.113.8")).status).toBe(101);
  }, 30_000);

  test("a client refused at the upgrade by a ban says who banned it, why and for how long", async () => {
    const chat = await server();
    const root = await person(chat, "root", "198.51.100.1", { registered: true });
    // The client below comes from 127.0.0.1 itself (no proxy header): that is the address banned.
    root.run({ type: "ban", target: "127.0.0.1", duration: "1h", reason: "testing bans" });
    await root.next("notice", (e) => e.text.includes("testing bans"));
    const refused = await run([BUN, join(ROOT, "client.ts"), "--name", "newcomer", chat.url], { input: "hi\n" });
    expect(refused.stderr).toBe(
      `Could not connect to ${chat.url}: You are banned from this chat by root (1 h more): testing bans.\n`,
    );
    expect(refused.exitCode).toBe(3);
  }, 30_000);
});

describe("a registered person banned or muted cannot dodge it by logging out", () => {
  test("banned from the chat: their address, and whoever shares it, is refused at the upgrade until /unban NAME; each refused address is logged once", async () => {
    const chat = await server();
    const root = await person(chat, "root", "198.51.100.1", { registered: true });
    const mallory = await person(chat, "mallory", "203.0.113.7", { registered: true });
    const flatmate = await person(chat, "flo", "203.0.113.7");
    root.run({ type: "ban", target: "mallory", reason: "spam" });
    expect((await mallory.socket.waitForClose()).code).toBe(CLOSE_BANNED);
    expect((await flatmate.socket.waitForClose()).reason).toBe(
      "Your address (203.0.113.7), which mallory came from, was banned from this chat by root: spam",
    );
    // Back at once as a guest under another name: refused before any name is read.
    expect(await upgradeFrom(chat, "203.0.113.7")).toEqual({
      status: 403,
      body: "You are banned from this chat by root: spam.\n",
    });
    expect((await upgradeFrom(chat, "203.0.113.7")).status).toBe(403);
    await chat.waitForLog(/Refused banned address 203\.0\.113\.7 \(mallory's\): banned by root until lifted: spam\n/);
    expect(chat.log().match(/Refused banned address/g)).toHaveLength(1);
    expect((await upgradeFrom(chat, "203.0.113.8")).status).toBe(101);
    root.run({ type: "unban", target: "mallory" });
    await root.next("notice", (e) => e.text === "mallory is no longer banned from the chat (root)");
    expect((await upgradeFrom(chat, "203.0.113.7")).status).toBe(101);
  }, 30_000);

  test("muted or banned in a room: logged out, under another name, still muted and still out", async () => {
    const chat = await server();
    const alice = await person(chat, "alice", "198.51.100.2", { room: "dev", registered: true });
    alice.run({ type: "claim" });
    await alice.next("role", (e) => e.role === "owner");
    const eve = await person(chat, "eve", "203.0.113.9", { room: "dev", registered: true });
    alice.run({ type: "mute", name: "eve" });
    await eve.next("notice", (e) => e.text.startsWith("You were muted in dev by alice"));
    eve.run({ type: "logout" });
    await eve.next("account", (e) => e.name === null);
    eve.run({ type: "nick", name: "eve2" });
    await eve.next("notice", (e) => e.event === "rename" && e.text.endsWith("is now eve2"));
    eve.run({ type: "say", text: "free at last" });
    expect(await eve.next("error")).toMatchObject({ code: "muted" });
    eve.run({ type: "login", name: "eve", password: PASSWORD });
    await eve.next("account", (e) => e.name === "eve");
    alice.run({ type: "ban", target: "eve" });
    await eve.next("joined", (e) => e.room === "chat");
    eve.run({ type: "logout" });
    eve.run({ type: "nick", name: "eve3" });
    await eve.next("notice", (e) => e.event === "rename" && e.text.endsWith("is now eve3"));
    eve.run({ type: "join", room: "dev" });
    expect(await eve.next("error")).toMatchObject({ code: "banned", message: "You are banned from dev by alice." });
    alice.run({ type: "unban", target: "eve" });
    await alice.next("notice", (e) => e.text === "eve is no longer banned from dev (alice)");
    eve.run({ type: "join", room: "dev" });
    await eve.next("joined", (e) => e.room === "dev");
  }, 30_000);
});

describe("rooms and their moderators", () => {
  test("a non-moderator's /kick is refused with forbidden, in plain text too", async () => {
    const chat = await server();
    const socket = await TestSocket.open(`${chat.url}/?name=mallory`, undefined, 5_000, {
      "X-Forwarded-For": "10.1.1.1",
    });
    started.push({ stop: () => socket.close() });
    await person(chat, "victim", "10.1.1.2");
    socket.send("/kick victim bye");
    await socket.waitForMessage("the refusal", (m) => m === "*** Error: Only moderators of chat may /kick here.");
  }, 20_000);

  test("an owner's room ban keeps the person out of that room only; mute, topic and slow mode hold in the room", async () => {
    const chat = await server();
    const alice = await person(chat, "alice", "198.51.100.2", { room: "dev", registered: true });
    alice.run({ type: "claim" });
    await alice.next("role", (e) => e.role === "owner");
    alice.run({ type: "topic", text: "release planning" });
    const gus = await person(chat, "gus", "203.0.113.9", { room: "dev" });
    expect(gus.socket.events.find((e) => e.type === "joined")?.topic).toBe("release planning");
    // A plain-text client has no `joined` to carry it: the topic comes as a line of its own.
    const plain = await TestSocket.open(`${chat.url}/?name=pat&room=dev`, undefined, 5_000, {
      "X-Forwarded-For": "203.0.113.10",
    });
    started.push({ stop: () => plain.close() });
    await plain.waitForMessage("the topic", (m) => m === "*** alice set the topic of dev: release planning");

    alice.run({ type: "mute", name: "gus", duration: "10m" });
    await gus.next(
      "notice",
      (e) => e.text === "You were muted in dev by alice for 10m: you can read but not speak here",
    );
    gus.run({ type: "say", text: "can anyone hear me" });
    expect((await gus.next("error")).code).toBe("muted");
    alice.run({ type: "unmute", name: "gus" });
    await gus.next("notice", (e) => e.text.startsWith("You may speak in dev again"));

    alice.run({ type: "slow", seconds: "30" });
    await gus.next("notice", (e) => e.text.includes("slow mode"));
    gus.run({ type: "say", text: "first" });
    await alice.next("message", (e) => e.text === "first");
    gus.run({ type: "say", text: "second" });
    expect(await gus.next("error")).toMatchObject({ code: "slow-mode" });
    expect(alice.socket.events.some((e) => e.text === "second")).toBe(false);

    alice.run({ type: "ban", target: "gus", reason: "rude" });
    await gus.next("joined", (e) => e.room === "chat");
    gus.run({ type: "join", room: "dev" });
    expect(await gus.next("error")).toMatchObject({
      code: "banned",
      message: "You are banned from dev by alice: rude.",
    });
    gus.run({ type: "join", room: "elsewhere" });
    await gus.next("joined", (e) => e.room === "elsewhere");
    expect(gus.socket.closed).toBeUndefined();
  }, 30_000);

  test("/delete takes a message out of the room's history: a later joiner never gets it", async () => {
    const chat = await server();
    const alice = await person(chat, "alice", "198.51.100.2", { room: "dev", registered: true });
    alice.run({ type: "claim" });
    await alice.next("role");
    const gus = await person(chat, "gus", "203.0.113.9", { room: "dev" });
    gus.run({ type: "say", text: "fine words" });
    gus.run({ type: "say", text: "awful words" });
    const awful = await alice.next("message", (e) => e.text === "awful words");
    alice.run({ type: "delete", seq: String(awful.seq) });
    expect(await gus.next("deleted")).toEqual({ type: "deleted", room: "dev", seq: awful.seq });
    const later = await person(chat, "lee", "203.0.113.10", { room: "dev" });
    await later.next("message", (e) => e.text === "fine words");
    expect(later.socket.events.filter((e) => e.type === "message").map((e) => e.text)).toEqual(["fine words"]);
    alice.run({ type: "modlog" });
    const log = await alice.next("modlog");
    expect(log.entries.map((e: WireEvent) => e.text)).toEqual([
      "alice claimed dev: they own it now",
      `alice removed message #${awful.seq}`,
    ]);
  }, 30_000);
});

describe("kept and shared", () => {
  test("roles and bans survive a restart (--store)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "chat-moderation-"));
    started.push({ stop: () => rmSync(dir, { recursive: true, force: true }) });
    const store = join(dir, "chat.db");
    const first = await server(["--store", store]);
    const alice = await person(first, "alice", "198.51.100.2", { room: "dev", registered: true });
    await person(first, "bob", "198.51.100.3", { room: "dev", registered: true });
    alice.run({ type: "claim" });
    alice.run({ type: "mod", name: "bob" });
    await alice.next("notice", (e) => e.text === "alice made bob a moderator of dev");
    const root = await person(first, "root", "198.51.100.1", { registered: true });
    await person(first, "gus", "203.0.113.7");
    root.run({ type: "ban", target: "gus" });
    await root.next("notice", (e) => e.text === "gus was banned from the chat by root");
    await first.stop();

    const second = await server(["--store", store]);
    expect((await upgradeFrom(second, "203.0.113.7")).status).toBe(403);
    const bob = await person(second, "bob", "198.51.100.3", { login: true });
    bob.run({ type: "join", room: "dev" });
    expect(await bob.next("joined", (e) => e.room === "dev")).toMatchObject({ role: "moderator" });
  }, 40_000);

  test("accounts op makes an operator of a running server's account (--store), and deop undoes it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "chat-moderation-"));
    started.push({ stop: () => rmSync(dir, { recursive: true, force: true }) });
    const store = join(dir, "chat.db");
    const chat = await server(["--store", store]);
    const alice = await person(chat, "alice", "198.51.100.2", { registered: true });
    const accounts = (action: string, name: string) =>
      run([BUN, join(ROOT, "server.ts"), "accounts", action, name, "--store", store]);
    expect(await accounts("op", "alice")).toEqual({ exitCode: 0, stdout: "alice is an operator now.\n", stderr: "" });
    await alice.next("role", (e) => e.role === "operator");
    // A role belongs to an account: a name nobody registered would go to whoever registers it first.
    expect(await accounts("op", "carol")).toEqual({
      exitCode: 2,
      stdout: "",
      stderr: expect.stringContaining(
        "carol is not registered: an operator is an account. Register it first, or name it with --ops.",
      ),
    });
    expect((await accounts("deop", "alice")).stdout).toBe("alice is no longer an operator.\n");
    await alice.next("role", (e) => e.role === null);
    expect((await accounts("deop", "alice")).stdout).toStartWith("alice is not an operator made here");
  }, 30_000);

  test("a role does not outlive its account: whoever registers the name next has none", async () => {
    const chat = await server();
    const alice = await person(chat, "alice", "198.51.100.2", { room: "dev", registered: true });
    alice.run({ type: "claim" });
    await alice.next("role", (e) => e.role === "owner");
    alice.run({ type: "unregister", password: PASSWORD });
    await alice.next("account", (e) => e.name === null);
    // Someone else registers the name (a look-alike of it), and enters dev: not its owner.
    const other = await person(chat, "ALICE", "203.0.113.20", { room: "dev", registered: true });
    expect(other.socket.events.find((e) => e.type === "joined")?.role).toBeUndefined();
    expect(other.socket.events.some((e) => e.type === "role" && e.role !== null)).toBe(false);
    // The room is free to claim again.
    other.run({ type: "claim" });
    await other.next("role", (e) => e.role === "owner");
  }, 30_000);

  test("with Redis, a ban made on one instance closes the person on the other at once", async () => {
    const redis = await startRedis();
    started.push(redis);
    const [one, two] = [await server(["--redis", redis.url]), await server(["--redis", redis.url])];
    const root = await person(one, "root", "198.51.100.1", { registered: true });
    const gus = await person(two, "gus", "203.0.113.7", { room: "dev" });
    const lee = await person(two, "lee", "203.0.113.20", { room: "dev" });
    await waitFor("gus to be seen from the first instance", async () => {
      root.run({ type: "rooms" });
      const rooms = await root.next("rooms");
      return rooms.rooms.some((r: WireEvent) => r.name === "dev") ? true : undefined;
    });
    lee.run({ type: "say", text: "kept" });
    lee.run({ type: "say", text: "delete me" });
    const said = await lee.next("message", (e) => e.text === "delete me");
    root.run({ type: "ban", target: "gus", reason: "spam" });
    const closed = await gus.socket.waitForClose();
    expect(closed.code).toBe(CLOSE_BANNED);
    expect((await upgradeFrom(two, "203.0.113.7")).status).toBe(403);
    expect((await upgradeFrom(one, "203.0.113.7")).status).toBe(403);
    // An operator deletes a message said on the other instance: gone there, and from Redis's history.
    root.run({ type: "join", room: "dev" });
    await root.next("joined", (e) => e.room === "dev");
    root.run({ type: "delete", seq: String(said.seq) });
    expect(await lee.next("deleted")).toEqual({ type: "deleted", room: "dev", seq: said.seq });
    const three = await server(["--redis", redis.url]);
    const later = await person(three, "ola", "203.0.113.30", { room: "dev" });
    const joined = later.socket.events.find((e) => e.type === "joined")!;
    await waitFor("ola's history", () => (later.socket.events.length >= 2 + joined.history ? true : undefined));
    expect(later.socket.events.filter((e) => e.type === "message").map((e) => e.text)).toEqual(["kept"]);
  }, 40_000);
});
