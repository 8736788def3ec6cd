/**
 * Names people own (accounts), end to end: real server processes, real sockets, real argon2id, a
 * real --store file and a real redis-server. Registering makes a name (and its look-alikes) its
 * owner's; logging in takes it, from several devices at once; a session token logs in without the
 * password and ends with /logout and /password; the ownership outlives a restart and holds on
 * every instance; the store never holds a password.
 */
import { Database } from "bun:sqlite";
import { expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SUBPROTOCOL } from "../common/events";
import {
  CuttableLink,
  type RunningServer,
  settle,
  startRedis,
  startServer,
  TestSocket,
  type WireEvent,
  waitFor,
  waitForStored,
} from "./helpers";

const PASSWORD = "correct-horse-42";

/** A JSON client, logged in with a session token (a `session.` subprotocol entry) if one is given. */
async function connect(server: RunningServer, query = "", session?: string): Promise<TestSocket> {
  const protocols = session ? `${SUBPROTOCOL}, session.${session}` : SUBPROTOCOL;
  const socket = await TestSocket.open(`${server.url}/${query}`, undefined, 5_000, {
    "Sec-WebSocket-Protocol": protocols,
  });
  await socket.waitForEvent("the welcome", (e) => e.type === "welcome");
  return socket;
}

const send = (socket: TestSocket, command: Record<string, string>) => socket.send(JSON.stringify(command));

/** The first event after the first `after` messages that passes `check`. */
function nextOf(socket: TestSocket, what: string, after: number, check: (e: WireEvent) => boolean): Promise<WireEvent> {
  return waitFor(`${what}; have ${socket.messages.slice(after).join(" ")}`, () =>
    socket.messages
      .slice(after)
      .map((m) => JSON.parse(m) as WireEvent)
      .find(check),
  );
}

/** Sends `command` and waits for the answer of `type` it brings (an error, or an account event). */
function ask(socket: TestSocket, command: Record<string, string>, type = "account"): Promise<WireEvent> {
  const before = socket.messages.length;
  send(socket, command);
  return nextOf(socket, `the answer to ${command.type}`, before, (e) => e.type === type || e.type === "error");
}

/** `name` registered by a connection that stays; its session token. */
async function register(server: RunningServer, name: string): Promise<{ owner: TestSocket; token: string }> {
  const owner = await connect(server, `?name=${name}`);
  const answer = await ask(owner, { type: "register", password: PASSWORD });
  // Read before any toMatchObject with expect.any: Bun's writes the matcher into what it checks.
  const token = answer.token;
  expect(typeof token).toBe("string");
  expect(answer).toMatchObject({ type: "account", name });
  return { owner, token };
}

/** The refusal a guest asking for `name` gets, at connect and by /nick. */
async function refusalsOf(server: RunningServer, name: string): Promise<string[]> {
  const guest = await connect(server, `?name=${encodeURIComponent(name)}`);
  const atConnect = await guest.waitForEvent("the refusal at connect", (e) => e.type === "error");
  await guest.waitForEvent("joined", (e) => e.type === "joined");
  const byNick = await ask(guest, { type: "nick", name }, "notice");
  guest.close();
  return [atConnect.code, byNick.code];
}

test("a registered name, and three look-alikes, are refused to a guest, even while its owner's drop is in its grace", async () => {
  const server = await startServer();
  const link = new CuttableLink(server.port);
  try {
    const { owner, token } = await register(server, "alice");
    owner.close();
    // The owner comes back through a link that then drops, as a phone losing its network does.
    const phone = await TestSocket.open(`ws://127.0.0.1:${link.port}/?name=alice`, undefined, 5_000, {
      "Sec-WebSocket-Protocol": `${SUBPROTOCOL}, session.${token}`,
    });
    await phone.waitForEvent("the login", (e) => e.type === "account" && e.name === "alice");
    link.cut();
    await server.waitForLog(/Connection from alice \(\S+\) closed \(1006/);
    for (const name of ["alice", "ALICE", "a1ice", "ａｌｉｃｅ"])
      expect({ name, codes: await refusalsOf(server, name) }).toEqual({
        name,
        codes: ["name-registered", "name-registered"],
      });
    // A name nobody registered is a guest's, as before.
    const bob = await connect(server, "?name=bob");
    const joined = await bob.waitForEvent("joined", (e) => e.type === "joined");
    expect(joined.members.at(-1)).toEqual({ name: "bob", address: expect.any(String) });
  } finally {
    link.stop();
    await server.stop();
  }
}, 20_000);

test("a wrong password is refused, the right one logs in; two devices speak at once and are listed once", async () => {
  const server = await startServer();
  try {
    const { owner: laptop } = await register(server, "alice");
    const phone = await connect(server, "?name=phone");
    const wrong = await ask(phone, { type: "login", name: "alice", password: "not-the-password" });
    const unknown = await ask(phone, { type: "login", name: "nobody", password: "not-the-password" });
    expect([wrong, unknown].map(({ code, message }) => ({ code, message }))).toEqual([
      { code: "login-failed", message: "Wrong name or password." },
      { code: "login-failed", message: "Wrong name or password." },
    ]);
    const right = await ask(phone, { type: "login", name: "alice", password: PASSWORD });
    expect(right).toMatchObject({ type: "account", name: "alice", token: expect.any(String) });
    send(phone, { type: "say", text: "from the phone" });
    send(laptop, { type: "say", text: "from the laptop" });
    const from = (socket: TestSocket, text: string) =>
      socket.waitForEvent(text, (e) => e.type === "message" && e.text === text);
    const [a, b] = [await from(laptop, "from the phone"), await from(phone, "from the laptop")];
    expect(a.from).toMatchObject({ name: "alice", registered: true });
    expect(b.from).toMatchObject({ name: "alice", registered: true });
    expect(a.from.address).not.toBe(b.from.address);
    const bystander = await TestSocket.open(server.url);
    bystander.send("/who");
    const who = await bystander.waitForMessage("who", (m) => m.startsWith("*** In chat"));
    expect(who).toMatch(/^\*\*\* In chat \(2\): alice \(127\.0\.0\.1:\d+\) on 2 connections, 127\.0\.0\.1:\d+$/);
    const members = await ask(phone, { type: "who" }, "members");
    expect(members.members).toEqual([
      { name: "alice", address: expect.any(String), registered: true, connections: 2 },
      { name: null, address: expect.any(String) },
    ]);
  } finally {
    await server.stop();
  }
}, 20_000);

test("a session token logs in without the password; /logout and /password end sessions", async () => {
  const server = await startServer();
  try {
    const { owner: laptop, token: laptopToken } = await register(server, "alice");
    const phone = await connect(server, "?name=alice", laptopToken);
    expect(phone.events.filter((e) => e.type === "account" || e.type === "error")).toEqual([
      { type: "account", name: "alice" },
    ]);
    expect((await phone.waitForEvent("joined", (e) => e.type === "joined")).members.at(-1)).toMatchObject({
      name: "alice",
    });
    // /logout: this device's token ends; the connection is a nameless guest.
    expect(await ask(phone, { type: "logout" })).toEqual({ type: "account", name: null });
    const stale = await connect(server, "?name=alice", laptopToken);
    const refused = stale.events.filter((e) => e.type === "error").map((e) => e.code);
    expect(refused).toEqual(["session-invalid", "name-registered"]);
    // The laptop, on that token, was logged out too: it was one session.
    await laptop.waitForEvent("the laptop's logout", (e) => e.type === "account" && e.name === null);
    // /password: every other session ends, and whoever used one is logged out at once.
    const tablet = await connect(server);
    const tabletLogin = await ask(tablet, { type: "login", name: "alice", password: PASSWORD });
    const desk = await connect(server);
    const deskLogin = await ask(desk, { type: "login", name: "alice", password: PASSWORD });
    const after = tablet.messages.length;
    const changed = await ask(desk, { type: "password", old: PASSWORD, new: "battery-staple-7" });
    expect(changed).toMatchObject({ name: "alice", text: "Your password is changed; 1 other session was ended." });
    expect(await nextOf(tablet, "an error", after, (e) => e.type === "error")).toMatchObject({
      code: "session-invalid",
    });
    expect(await nextOf(tablet, "a logout", after, (e) => e.type === "account")).toEqual({
      type: "account",
      name: null,
    });
    const again = await connect(server, "", tabletLogin.token);
    expect(again.events.find((e) => e.type === "error")?.code).toBe("session-invalid");
    const mine = await connect(server, "", deskLogin.token);
    expect(mine.events.find((e) => e.type === "account")).toEqual({ type: "account", name: "alice" });
  } finally {
    await server.stop();
  }
}, 20_000);

test("the name is still owned after a restart with --store, and the store holds no password nor token", async () => {
  const dir = mkdtempSync(join(tmpdir(), "accounts-"));
  const store = join(dir, "chat.db");
  let server = await startServer(["--store", store]);
  try {
    expect(server.log()).not.toContain("Accounts are kept in memory");
    const { owner, token } = await register(server, "alice");
    owner.send(JSON.stringify({ type: "say", text: "said while registered" }));
    await waitForStored(store, "said while registered");
    await server.stop();
    for (const file of [store, `${store}-wal`].filter((f) => existsSync(f))) {
      const bytes = readFileSync(file, "latin1");
      expect(bytes).not.toContain(PASSWORD);
      expect(bytes).not.toContain(token);
    }
    const db = new Database(store, { readonly: true });
    const rows = db.query("SELECT tbl, value FROM state").all() as { tbl: string; value: string }[];
    db.close();
    // Accounts, sessions, and the addresses trusted for an account (prefixes and times, nothing secret).
    expect([...new Set(rows.map((r) => r.tbl))].sort()).toEqual(["accounts", "sessions", "trusted-addresses"]);
    expect(JSON.parse(rows.find((r) => r.tbl === "accounts")!.value).hash).toMatch(/^\$argon2id\$/);
    server = await startServer(["--store", store]);
    expect(await refusalsOf(server, "alice")).toEqual(["name-registered", "name-registered"]);
    // What alice said is replayed from the store with her name's mark.
    const reader = await connect(server);
    const replayed = await reader.waitForEvent("the replay", (e) => e.text === "said while registered");
    expect(replayed.from).toEqual({ name: "alice", address: expect.any(String), registered: true });
    const back = await connect(server, "?name=alice", token);
    expect(back.events.find((e) => e.type === "account")).toEqual({ type: "account", name: "alice" });
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}, 20_000);

test("with --redis, a name registered on one instance is owned on the other; its owner is listed once across both", async () => {
  const redis = await startRedis();
  const first = await startServer(["--redis", redis.url]);
  const second = await startServer(["--redis", redis.url]);
  try {
    const { owner } = await register(first, "alice");
    expect(await refusalsOf(second, "alice")).toEqual(["name-registered", "name-registered"]);
    expect(await refusalsOf(second, "a1ice")).toEqual(["name-registered", "name-registered"]);
    const phone = await connect(second);
    await ask(phone, { type: "login", name: "alice", password: PASSWORD });
    await settle(phone, owner);
    const members = await ask(phone, { type: "who" }, "members");
    expect(members.members).toEqual([{ name: "alice", address: expect.any(String), registered: true, connections: 2 }]);
  } finally {
    await first.stop();
    await second.stop();
    await redis.stop();
  }
}, 30_000);

test("--guests no: a guest hears nothing and may only log in; --registration closed refuses /register", async () => {
  const server = await startServer(["--guests", "no", "--registration", "closed"]);
  try {
    // With no account yet, nobody could get in: the operator is told how to make one.
    await server.waitForLog(/has none yet: make one with .*server\.ts accounts create NAME and the same --store/);
    const member = await connect(server, "?name=alice");
    await member.waitForEvent("the refusal", (e) => e.type === "error" && e.code === "login-required");
    expect((await ask(member, { type: "register", password: PASSWORD })).code).toBe("login-required");
    expect((await ask(member, { type: "say", text: "hello" })).code).toBe("login-required");
    expect(member.events.some((e) => e.type === "joined")).toBe(false);
    const plain = await TestSocket.open(`${server.url}/?name=bob`);
    plain.send("/register correct-horse");
    await plain.waitForMessage("a refusal", (m) => m.startsWith("*** Error: This server is for registered accounts"));
  } finally {
    await server.stop();
  }
});
