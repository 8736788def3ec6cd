/**
 * Accounts in the chat core (server/accounts/), driven by fake members: names people own, logins
 * on several connections, session tokens, --guests no and --registration closed. Passwords are
 * "hashed" by a fast fake that counts its work; the real argon2id is in test/accounts.test.ts.
 */
import { expect, test } from "bun:test";
import type { ChatEvent } from "../../common/events";
import type { AccountOptions } from "../../server/accounts/accounts";
import type { Passwords } from "../../server/accounts/passwords";
import { chatWith, type FakeSocket } from "./fake-chat";

/** A hasher of no cost that counts how many passwords it checked. */
function fakePasswords() {
  const work = { hashed: 0, verified: 0 };
  const passwords: Passwords = {
    hash: async (password) => {
      work.hashed++;
      return `hashed:${password}`;
    },
    verify: async (password, hash) => {
      work.verified++;
      return hash === `hashed:${password}`;
    },
  };
  return { passwords, work };
}

/** Lets the promises of hashing and writing rows run. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 5));

function accountsChat(options: Partial<AccountOptions> = {}) {
  const { passwords, work } = fakePasswords();
  const made = chatWith({}, {}, undefined, { accounts: { guests: true, registration: true, passwords, ...options } });
  const command = (say: (frame: string) => void, command: Record<string, string>) => say(JSON.stringify(command));
  return { ...made, work, command };
}

const last = (socket: FakeSocket, type: ChatEvent["type"]) => socket.events.filter((e) => e.type === type).at(-1);
const errorCodes = (socket: FakeSocket): string[] => socket.eventsOf("error").map((e) => e.code);

/** A chat with `alice` registered (password "correct-horse") by a connection that is still there. */
async function withAlice(options: Partial<AccountOptions> = {}) {
  const made = accountsChat(options);
  const alice = made.connect({ name: "alice" });
  made.command(alice.say, { type: "register", password: "correct-horse" });
  await settle();
  const event = last(alice.socket, "account");
  if (event?.type !== "account" || !event.token) throw new Error(`no account event: ${alice.socket.frames}`);
  return { ...made, alice, token: event.token };
}

test("a registered name, and every look-alike, is refused to a guest: at connect and by /nick", async () => {
  const { connect, alice, chat, command } = await withAlice();
  expect(alice.member.account).toBe("alice");
  expect(alice.member.name).toBe("alice");
  expect(chat.state.table("accounts", (v) => v).get("alice")).toMatchObject({ name: "alice" });
  // The registration says what happened, not only that a login did.
  expect(last(alice.socket, "account")).toMatchObject({
    name: "alice",
    text: expect.stringMatching(/^alice is registered to you now/),
  });
  for (const name of ["alice", "ALICE", "a1ice", "alıce"]) {
    const guest = connect({ name });
    expect(guest.member.name).toBeNull();
    expect(last(guest.socket, "error")).toMatchObject({ code: "name-registered" });
    command(guest.say, { type: "nick", name });
    expect(errorCodes(guest.socket)).toEqual(["name-registered", "name-registered"]);
  }
  // Even once alice has gone: a registered name is not held for a while, it is owned.
  alice.socket.close(1000);
  const late = connect({ name: "alice" });
  expect(late.member.name).toBeNull();
});

test("a wrong password and an unknown name get the same answer; the right password logs in with a token", async () => {
  const { connect, command, alice, work } = await withAlice();
  alice.socket.close(1000);
  const bob = connect({ name: "bob" });
  command(bob.say, { type: "login", name: "alice", password: "wrong-horse" });
  command(bob.say, { type: "login", name: "nobody", password: "wrong-horse" });
  await settle();
  const refusals = bob.socket.eventsOf("error");
  expect(refusals.map(({ code, message }) => ({ code, message }))).toEqual([
    { code: "login-failed", message: "Wrong name or password." },
    { code: "login-failed", message: "Wrong name or password." },
  ]);
  // The unknown name was checked against a decoy, as long as a real one takes.
  expect(work.verified).toBe(2);
  command(bob.say, { type: "login", name: "ALICE", password: "correct-horse" });
  await settle();
  expect(bob.member.name).toBe("alice");
  expect(last(bob.socket, "account")).toMatchObject({ type: "account", name: "alice", token: expect.any(String) });
  expect(last(bob.socket, "notice")).toMatchObject({
    event: "rename",
    text: expect.stringMatching(/^bob \(\S+\) is now alice$/),
  });
});

test("two connections logged in to one account share its name, each with its address, and are listed once", async () => {
  const { connect, command, alice, token } = await withAlice();
  const phone = connect({ session: token });
  expect(phone.member.name).toBe("alice");
  expect(phone.socket.eventsOf("account")).toEqual([{ type: "account", name: "alice" }]);
  const joined = last(phone.socket, "joined");
  expect(joined).toMatchObject({ count: 1, members: [{ name: "alice", registered: true, connections: 2 }] });
  phone.say(JSON.stringify({ type: "say", text: "from the phone" }));
  alice.say(JSON.stringify({ type: "say", text: "from the laptop" }));
  const said = alice.socket.eventsOf("message").map((m) => [m.from.address, m.text]);
  expect(said).toEqual([
    [phone.member.address, "from the phone"],
    [alice.member.address, "from the laptop"],
  ]);
  const bob = connect({ name: "bob" });
  command(bob.say, { type: "who" });
  const members = last(bob.socket, "members");
  expect(members).toMatchObject({
    members: [
      { name: "alice", registered: true, connections: 2 },
      { name: "bob", address: bob.member.address },
    ],
  });
  // One device leaving is not the person leaving: the room is told they are still here.
  phone.socket.close(1000);
  expect(last(bob.socket, "notice")).toMatchObject({
    event: "leave",
    text: `alice (${phone.member.address}) left chat (still here on 1 other connection)`,
  });
});

test("a session token: unknown ones are refused and the connection stays a guest; /logout ends it", async () => {
  const { connect, command, token, chat } = await withAlice();
  const stranger = connect({ session: "A".repeat(43), name: "alice" });
  expect(errorCodes(stranger.socket)).toEqual(["session-invalid", "name-registered"]);
  expect(stranger.member.account).toBeNull();
  const phone = connect({ session: token });
  command(phone.say, { type: "logout" });
  await settle();
  expect(phone.member.account).toBeNull();
  expect(phone.member.name).toBeNull();
  expect(last(phone.socket, "account")).toEqual({ type: "account", name: null });
  expect(chat.accounts.store.session(token)).toBeUndefined();
  // The laptop logged in with a session of its own, which goes on.
  const again = connect({ session: token });
  expect(errorCodes(again.socket)).toEqual(["session-invalid"]);
});

test("/password ends every other session: a connection using one is logged out at once", async () => {
  const { connect, command, alice } = await withAlice();
  const phone = connect();
  command(phone.say, { type: "login", name: "alice", password: "correct-horse" });
  await settle();
  const phoneToken = (last(phone.socket, "account") as { token: string }).token;
  const { socket: tablet } = connect({ session: phoneToken });
  command(alice.say, { type: "password", old: "correct-horse", new: "battery-staple" });
  await settle();
  // The laptop's own session goes on.
  expect(alice.member.account).toBe("alice");
  expect(last(alice.socket, "account")).toMatchObject({ text: "Your password is changed; 1 other session was ended." });
  for (const socket of [phone.socket, tablet]) {
    expect(errorCodes(socket)).toEqual(["session-invalid"]);
    expect(last(socket, "account")).toEqual({ type: "account", name: null });
  }
  expect(phone.member.name).toBeNull();
  const bob = connect({ name: "bob" });
  command(bob.say, { type: "login", name: "alice", password: "correct-horse" });
  command(bob.say, { type: "login", name: "alice", password: "battery-staple" });
  await settle();
  expect(errorCodes(bob.socket)).toEqual(["login-failed"]);
  expect(bob.member.name).toBe("alice");
});

test("/register refuses a guest without a name, a registered name, a short or long password, and a closed server", async () => {
  const { connect, command } = await withAlice();
  const cases: [Record<string, string | null>, string, string][] = [
    [{ name: null }, "correct-horse", "name-invalid"],
    [{ name: "bob" }, "short", "password-invalid"],
    [{ name: "carol" }, "x".repeat(1025), "password-invalid"],
  ];
  for (const [asked, password, code] of cases) {
    const guest = connect(asked);
    command(guest.say, { type: "register", password });
    await settle();
    expect(errorCodes(guest.socket)).toEqual([code]);
  }
  const closed = accountsChat({ registration: false });
  const dave = closed.connect({ name: "dave" });
  closed.command(dave.say, { type: "register", password: "correct-horse" });
  await settle();
  expect(errorCodes(dave.socket)).toEqual(["registration-closed"]);
});

test("--guests no: a guest waits outside every room and may only log in; logging in lets it in", async () => {
  const { connect, command, chat } = accountsChat({ guests: false });
  await chat.accounts.store.create("alice", "hashed:correct-horse");
  const alice = connect({ name: "alice" });
  command(alice.say, { type: "login", name: "alice", password: "correct-horse" });
  await settle();
  expect(last(alice.socket, "joined")).toMatchObject({ room: "chat" });
  const guest = connect({ name: "bob", room: "dev" });
  expect(guest.member.name).toBeNull();
  expect(guest.socket.eventsOf("joined")).toEqual([]);
  expect(errorCodes(guest.socket)).toEqual(["login-required"]);
  alice.say(JSON.stringify({ type: "say", text: "not for guests" }));
  command(guest.say, { type: "say", text: "hello" });
  command(guest.say, { type: "nick", name: "bob" });
  expect(errorCodes(guest.socket)).toEqual(["login-required", "login-required", "login-required"]);
  expect(guest.socket.frames.join()).not.toContain("not for guests");
  command(guest.say, { type: "login", name: "alice", password: "correct-horse" });
  await settle();
  expect(last(guest.socket, "joined")).toMatchObject({ room: "dev" });
  expect(chat.rooms.size("dev")).toBe(1);
  // Logged out, it is outside again.
  command(guest.say, { type: "logout" });
  await settle();
  expect(chat.rooms.size("dev")).toBe(0);
});

test("an account made while a guest has its name (an operator, another instance) takes the name from the guest", async () => {
  const { connect, chat } = accountsChat();
  const guest = connect({ name: "a1ice" });
  const watcher = connect({ name: "watcher" });
  await chat.accounts.store.create("alice", "hashed:correct-horse");
  expect(guest.member.name).toBeNull();
  expect(last(guest.socket, "error")).toMatchObject({ code: "name-registered" });
  expect(last(watcher.socket, "notice")).toMatchObject({ event: "rename", previousName: "a1ice" });
});

test("deleting an account logs out every connection logged in to it", async () => {
  const { connect, alice, token, chat } = await withAlice();
  const phone = connect({ session: token });
  await chat.accounts.store.accounts.delete("alice");
  for (const { member, socket } of [alice, phone]) {
    expect(member.account).toBeNull();
    expect(member.name).toBeNull();
    expect(errorCodes(socket)).toContain("session-invalid");
  }
});

test("guesses are budgeted before any hashing: past the budget, refused at once with the time to wait", async () => {
  const { connect, command, alice, work } = await withAlice();
  alice.socket.close(1000);
  const guesser = connect({ name: "mallory", ip: "10.0.0.66" });
  for (let i = 0; i < 30; i++) command(guesser.say, { type: "login", name: "alice", password: `guess-${i}-xx` });
  await settle();
  const codes = errorCodes(guesser.socket);
  // Five for this account from this address; everything after is refused unhashed.
  expect(codes.filter((c) => c === "login-failed")).toHaveLength(5);
  expect(codes.filter((c) => c === "rate-limited")).toHaveLength(25);
  expect(work.verified).toBe(5);
  const refused = guesser.socket.eventsOf("error").find((e) => e.code === "rate-limited");
  expect(refused?.message).toMatch(
    /^Password attempts from your address for this name are used up for now: wait \d+ s/,
  );
});

test("a guest waiting outside every room is still looked over as a reader, and counted as connected", () => {
  const { connect, chat } = accountsChat({ guests: false });
  const guest = connect({ name: "bob" });
  expect([...chat.connected()]).toContain(guest.member);
  guest.socket.buffered = 20_000; // past the fake chat's --max-backlog, 10,000
  chat.sweepSlowReaders();
  expect(guest.socket.closedWith).toEqual({ code: 1006, reason: "terminated" });
});

test("a login as something that is no name (or far too long) is refused at once, unhashed and unlogged", async () => {
  const { connect, command, work, log } = accountsChat();
  const guest = connect();
  command(guest.say, { type: "login", name: "x".repeat(1_500), password: "correct-horse" });
  command(guest.say, { type: "login", name: "bad\u001b[2Jname", password: "correct-horse" });
  command(guest.say, { type: "login", name: "alice", password: "p".repeat(1_500) });
  await settle();
  expect(errorCodes(guest.socket)).toEqual(["login-failed", "login-failed", "login-failed"]);
  expect(work.verified).toBe(0);
  expect(log.text).not.toContain("\u001b");
});
