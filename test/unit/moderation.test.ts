/**
 * Moderation (server/moderation/) in the chat core, without sockets: roles and the one permission
 * check, kicks, bans, mutes, topics, slow mode, deleting a message and the log, with fake members
 * whose account is set by hand (as the accounts code sets it on logging in).
 */
import { describe, expect, test } from "bun:test";
import { CLOSE_BANNED, CLOSE_KICKED } from "../../common/codes";
import { nameSkeleton } from "../../common/lookalikes";
import { say } from "./fake-chat";
import { lastError, moderationNotices, settled, world } from "./moderation-world";

describe("roles and the one permission check", () => {
  test("a guest cannot claim a room; a registered person can, once; nobody claims the default room", async () => {
    const w = world();
    const guest = w.person("gus", { ip: "10.0.0.9", room: "dev", registered: false });
    guest.run({ type: "claim" });
    expect(lastError(guest.socket)?.code).toBe("login-required");
    const alice = w.person("alice", { room: "dev" });
    alice.run({ type: "claim" });
    await settled();
    expect(w.moderation.roles.owners.get("dev")?.name).toBe("alice");
    expect(alice.socket.eventsOf("role").at(-1)).toEqual({ type: "role", room: "dev", role: "owner" });
    expect(moderationNotices(guest.socket)).toEqual(["alice claimed dev: they own it now"]);
    const bob = w.person("bob", { room: "dev" });
    bob.run({ type: "claim" });
    expect(lastError(bob.socket)).toEqual({ code: "forbidden", message: "dev is owned by alice already." });
    const carol = w.person("carol");
    carol.run({ type: "claim" });
    expect(lastError(carol.socket)?.code).toBe("forbidden");
  });

  test("an owner names moderators; a guest can never hold a role; nobody acts on an equal or higher role", async () => {
    const w = world();
    const alice = w.person("alice", { room: "dev" });
    alice.run({ type: "claim" });
    await settled();
    const bob = w.person("bob", { room: "dev" });
    const gus = w.person("gus", { ip: "10.0.0.9", room: "dev", registered: false });
    alice.run({ type: "mod", name: "gus" });
    expect(lastError(alice.socket)).toEqual({
      code: "forbidden",
      message: "gus is a guest: only a registered name can be a moderator.",
    });
    alice.run({ type: "mod", name: "bob" });
    await settled();
    expect(bob.socket.eventsOf("role").at(-1)?.role).toBe("moderator");
    // A moderator cannot name moderators, nor kick the owner, nor another moderator.
    w.person("carol", { room: "dev" });
    bob.run({ type: "mod", name: "carol" });
    expect(lastError(bob.socket)).toEqual({ code: "forbidden", message: "Only owners of dev may /mod here." });
    alice.run({ type: "mod", name: "carol" });
    await settled();
    bob.run({ type: "kick", name: "alice" });
    expect(lastError(bob.socket)?.message).toBe(
      "You cannot /kick alice: they are the owner of dev, and nobody acts on someone of an equal or higher role.",
    );
    bob.run({ type: "kick", name: "carol" });
    expect(lastError(bob.socket)?.code).toBe("forbidden");
    alice.run({ type: "unmod", name: "bob" });
    await settled();
    expect(bob.socket.eventsOf("role").at(-1)?.role).toBeNull();
    bob.run({ type: "kick", name: "gus" });
    expect(lastError(bob.socket)).toEqual({ code: "forbidden", message: "Only moderators of dev may /kick here." });
    expect(gus.member.room).toBe("dev");
  });

  test("--ops names an operator once the name is registered and logged in to; an operator outranks every owner", async () => {
    const w = world();
    const early = w.person("root", { registered: false });
    early.run({ type: "kick", name: "x" });
    expect(lastError(early.socket)?.code).toBe("forbidden");
    w.disconnect(early.member);
    const root = w.person("root");
    const alice = w.person("alice", { room: "dev" });
    alice.run({ type: "claim" });
    await settled();
    expect(w.moderation.rankOf(root.member, "dev")).toBe("operator");
    expect(w.moderation.rankOf(alice.member, "dev")).toBe("owner");
    alice.run({ type: "kick", name: "root" });
    expect(lastError(alice.socket)?.code).toBe("not-here");
  });
});

describe("kicks", () => {
  test("a moderator moves a person out of the room, who is told why; the room is told; they may come back", async () => {
    const w = world();
    const alice = w.person("alice", { room: "dev" });
    alice.run({ type: "claim" });
    await settled();
    const gus = w.person("gus", { ip: "10.0.0.9", room: "dev", registered: false });
    const watcher = w.person("wes", { ip: "10.0.0.5", room: "dev", registered: false });
    alice.run({ type: "kick", name: "gus", reason: "too loud" });
    await settled();
    expect(gus.member.room).toBe("chat");
    expect(gus.socket.closedWith).toBeUndefined();
    expect(moderationNotices(gus.socket)).toEqual(["You were kicked out of dev by alice: too loud"]);
    expect(moderationNotices(watcher.socket)).toContain("gus was kicked out of dev by alice: too loud");
    gus.run({ type: "join", room: "dev" });
    expect(gus.member.room).toBe("dev");
  });

  test("an operator's kick closes every connection of the person, with the reason", async () => {
    const w = world();
    const root = w.person("root");
    const bob = w.person("bob", { ip: "10.0.0.7", room: "dev" });
    const bobAgain = w.person("bob", { ip: "10.0.0.8", room: "other" });
    root.run({ type: "kick", name: "bob", reason: "spam" });
    await settled();
    const reason = "You were kicked out of the chat by root: spam";
    expect(bob.socket.closedWith).toEqual({ code: CLOSE_KICKED, reason });
    expect(bobAgain.socket.closedWith).toEqual({ code: CLOSE_KICKED, reason });
    expect(moderationNotices(bob.socket)).toEqual([reason]);
    expect(w.moderation.admission("10.0.0.7")).toBeUndefined();
  });

  test("a kicked guest's name is free at once: their client does not come back for it by itself", async () => {
    const w = world();
    const root = w.person("root");
    w.person("gus", { ip: "10.0.0.9", registered: false });
    root.run({ type: "kick", name: "gus" });
    await settled();
    expect(w.connect({ name: "gus", ip: "10.0.0.9" }).member.name).toBe("gus");
  });
});

test("a role holds for the account it was given to, whatever the clocks of the instances that made them say", async () => {
  const w = world();
  // Registered on an instance whose clock runs ahead of this one's.
  void w.chat.accounts.store.accounts.put("alice", {
    name: "alice",
    hash: "hashed:x",
    created: "2099-01-01T00:00:00Z",
  });
  const alice = w.person("alice", { room: "dev" });
  alice.run({ type: "claim" });
  await settled();
  expect(w.moderation.roles.rankOf("alice", "dev")).toBe("owner");
  // A later account of the same name does not inherit it.
  void w.chat.accounts.store.accounts.put("alice", {
    name: "alice",
    hash: "hashed:y",
    created: "2099-01-01T00:00:01Z",
  });
  expect(w.moderation.roles.rankOf("alice", "dev")).toBe("member");
});

describe("bounds", () => {
  test("a room holds at most 1,000 bans, and a person owns at most 10 rooms: one account cannot grow the tables without end", async () => {
    const w = world();
    const alice = w.person("alice", { room: "dev" });
    alice.run({ type: "claim" });
    await settled();
    // An owner bans people by name (addresses are for operators): 1,001 registered names, none connected.
    for (let n = 0; n <= 1_000; n++)
      void w.chat.accounts.store.accounts.put(nameSkeleton(`u${n}`), { name: `u${n}`, hash: "hashed:x", created: "" });
    for (let n = 0; n < 1_000; n++) alice.run({ type: "ban", target: `u${n}` });
    for (let n = 0; n < 5; n++) await settled();
    expect(w.moderation.bans.count("dev")).toBe(1_000);
    alice.run({ type: "ban", target: "u1000" });
    await settled();
    expect(lastError(alice.socket)).toEqual({
      code: "forbidden",
      message: "dev holds 1000 bans already, the most a room may: /unban some first.",
    });
    // A ban made again (a new reason, a new duration) is no new row; one lifted makes room.
    alice.run({ type: "ban", target: "u0", duration: "1h" });
    alice.run({ type: "unban", target: "u1" });
    await settled();
    alice.run({ type: "ban", target: "u1000" });
    await settled();
    expect(w.moderation.bans.count("dev")).toBe(1_000);
    expect(alice.socket.eventsOf("error")).toHaveLength(1);
    for (let n = 1; n <= 10; n++) {
      alice.run({ type: "join", room: `own${n}` });
      alice.run({ type: "claim" });
      await settled();
    }
    expect(lastError(alice.socket)).toEqual({
      code: "forbidden",
      message: "You own 10 rooms already, the most one person may.",
    });
    expect(w.moderation.roles.owners.get("own10")).toBeUndefined();
  });
});

describe("bans", () => {
  test("an operator bans a guest: closed, and their address refused at the upgrade whatever their name; it ends by itself", async () => {
    const w = world();
    const root = w.person("root");
    const gus = w.person("gus", { ip: "203.0.113.7", registered: false });
    const flatmate = w.person("flo", { ip: "203.0.113.7", registered: false });
    root.run({ type: "ban", target: "gus", duration: "2h", reason: "spam" });
    await settled();
    expect(gus.socket.closedWith).toEqual({
      code: CLOSE_BANNED,
      reason: "You were banned from this chat by root (2 h more): spam",
    });
    // Someone else on that address is caught too, and told it was not about them.
    expect(flatmate.socket.closedWith?.reason).toBe(
      "Your address (203.0.113.7), which gus came from, was banned from this chat by root (2 h more): spam",
    );
    expect(moderationNotices(root.socket)).toEqual(["gus was banned from the chat by root for 2h: spam"]);
    expect(w.moderation.admission("203.0.113.7")).toBe("You are banned from this chat by root (2 h more): spam.");
    expect(w.moderation.admission("203.0.113.8")).toBeUndefined();
    w.later(2 * 3_600_000);
    expect(w.moderation.admission("203.0.113.7")).toBeUndefined();
    await w.moderation.sweep();
    expect(w.moderation.bans.table.size).toBe(0);
  });

  test("a network ban covers its addresses; IPv6 guests are banned by their /64; /unban lifts it", async () => {
    const w = world();
    const root = w.person("root");
    root.run({ type: "ban", target: "198.51.100.0/24" });
    const v6 = w.person("six", { ip: "2001:db8:1:2::5", registered: false });
    root.run({ type: "ban", target: "six" });
    await settled();
    expect(w.moderation.admission("198.51.100.200")).toContain("banned");
    expect(w.moderation.admission("198.51.101.1")).toBeUndefined();
    expect(w.moderation.admission("2001:db8:1:2:ffff::1")).toContain("banned");
    expect(w.moderation.admission("2001:db8:1:3::1")).toBeUndefined();
    expect(v6.socket.closedWith?.code).toBe(CLOSE_BANNED);
    root.run({ type: "bans" });
    expect(
      root.socket
        .eventsOf("bans")
        .at(-1)
        ?.bans.map((b) => [b.target, b.name, b.scope]),
    ).toEqual([
      ["198.51.100.0/24", undefined, "chat"],
      ["2001:db8:1:2::/64", "six", "chat"],
    ]);
    root.run({ type: "unban", target: "six" });
    root.run({ type: "unban", target: "198.51.100.0/24" });
    await settled();
    expect(w.moderation.admission("2001:db8:1:2::5")).toBeUndefined();
    expect(w.moderation.admission("198.51.100.200")).toBeUndefined();
  });

  test("a moderator's ban keeps the person out of that room only, name and address both", async () => {
    const w = world();
    const alice = w.person("alice", { room: "dev" });
    alice.run({ type: "claim" });
    await settled();
    const gus = w.person("gus", { ip: "10.0.0.9", room: "dev", registered: false });
    alice.run({ type: "ban", target: "gus", reason: "rude" });
    await settled();
    expect(gus.member.room).toBe("chat");
    expect(gus.socket.closedWith).toBeUndefined();
    expect(moderationNotices(gus.socket)).toEqual(["You were banned from dev by alice: rude."]);
    gus.run({ type: "nick", name: "someone-else" });
    gus.run({ type: "join", room: "dev" });
    expect(lastError(gus.socket)).toEqual({ code: "banned", message: "You are banned from dev by alice: rude." });
    gus.run({ type: "join", room: "ops" });
    expect(gus.member.room).toBe("ops");
    const back = w.connect({ name: "new-name", ip: "10.0.0.9", room: "dev" });
    expect(back.member.room).toBe("chat");
    expect(back.socket.eventsOf("error").map((e) => e.code)).toEqual(["banned"]);
    expect(w.moderation.admission("10.0.0.9")).toBeUndefined();
  });

  test("a banned account may not log in; nobody may ban their own address", async () => {
    const w = world();
    const root = w.person("root", { ip: "10.0.0.2" });
    w.person("bob", { ip: "10.0.0.3" });
    root.run({ type: "ban", target: "bob" });
    await settled();
    expect(w.moderation.isAccountBanned("Bob")?.code).toBe("banned");
    expect(w.moderation.isAccountBanned("alice")).toBeUndefined();
    root.run({ type: "ban", target: "10.0.0.0/8" });
    expect(lastError(root.socket)?.code).toBe("forbidden");
  });
});

describe("budgets", () => {
  test("moderation commands spend the address's budget of renames and room changes", async () => {
    const w = world({ ipChanges: 1 });
    const alice = w.person("alice", { room: "dev" });
    alice.run({ type: "claim" });
    for (let i = 0; i < 40; i++) alice.run({ type: "topic", text: `topic ${i}` });
    await settled();
    const limited = alice.socket.eventsOf("error").filter((e) => e.code === "rate-limited");
    expect(limited.length).toBeGreaterThan(0);
    expect(limited[0]?.message).toStartWith("Too many renames, room changes and moderation commands from your address");
  });
});

describe("with accounts", () => {
  test("a banned account cannot log in again, by password or session token, from anywhere", async () => {
    const w = world();
    const root = w.person("root");
    const bob = w.connect({ name: "bob", ip: "10.0.0.7" });
    bob.say(JSON.stringify({ type: "register", password: "correct-horse" }));
    await settled();
    const token = bob.socket.eventsOf("account").at(-1)?.token;
    expect(token).toBeString();
    root.run({ type: "ban", target: "bob", reason: "spam" });
    await settled();
    expect(bob.socket.closedWith?.code).toBe(CLOSE_BANNED);
    const elsewhere = w.connect({ ip: "198.51.100.9" });
    elsewhere.say(JSON.stringify({ type: "login", name: "bob", password: "correct-horse" }));
    await settled();
    elsewhere.say(JSON.stringify({ type: "session", token }));
    expect(elsewhere.socket.eventsOf("error").map((e) => [e.code, e.message])).toEqual([
      ["banned", "bob is banned from this chat by root: spam."],
      ["banned", "bob is banned from this chat by root: spam."],
    ]);
    const presenting = w.connect({ ip: "198.51.100.9", session: token });
    expect(presenting.member.account).toBeNull();
    expect(presenting.socket.eventsOf("error").map((e) => e.code)).toEqual(["banned"]);
  });

  test("logging out and in again tells the owner their role", async () => {
    const w = world();
    const alice = w.connect({ name: "alice", room: "dev" });
    alice.say(JSON.stringify({ type: "register", password: "correct-horse" }));
    await settled();
    alice.say(JSON.stringify({ type: "claim" }));
    await settled();
    alice.say(JSON.stringify({ type: "logout" }));
    await settled();
    alice.say(JSON.stringify({ type: "login", name: "alice", password: "correct-horse" }));
    await settled();
    expect(alice.socket.eventsOf("role").map((e) => e.role)).toEqual(["owner", null, "owner"]);
  });
});

describe("mutes, topics, slow mode", () => {
  test("a muted person reads but cannot speak, and nobody else sees what they tried; it ends by itself", async () => {
    const w = world();
    const alice = w.person("alice", { room: "dev" });
    alice.run({ type: "claim" });
    await settled();
    const gus = w.person("gus", { ip: "10.0.0.9", room: "dev", registered: false });
    alice.run({ type: "mute", name: "gus", duration: "10m" });
    await settled();
    expect(moderationNotices(gus.socket)).toEqual([
      "You were muted in dev by alice for 10m: you can read but not speak here",
    ]);
    gus.say(say("can you hear me"));
    expect(lastError(gus.socket)).toEqual({
      code: "muted",
      message: "You are muted in dev (10 min more): you can read but not speak here.",
    });
    alice.say(say("quiet now"));
    expect(gus.socket.eventsOf("message").map((m) => m.text)).toEqual(["quiet now"]);
    expect(alice.socket.eventsOf("message").map((m) => m.text)).toEqual(["quiet now"]);
    w.later(10 * 60_000);
    gus.say(say("back"));
    expect(alice.socket.eventsOf("message").at(-1)?.text).toBe("back");
  });

  test("the topic is shown to the room, and to whoever enters later", async () => {
    const w = world();
    const alice = w.person("alice", { room: "dev" });
    alice.run({ type: "claim" });
    await settled();
    alice.run({ type: "topic", text: "release   planning" });
    await settled();
    expect(alice.socket.eventsOf("topic").at(-1)).toMatchObject({ room: "dev", text: "release planning", by: "alice" });
    const later = w.person("lee", { ip: "10.0.0.4", room: "dev", registered: false });
    expect(later.socket.eventsOf("joined")[0]?.topic).toBe("release planning");
  });

  test("slow mode: once per N seconds each, the refusal says when; moderators are spared; 0 ends it", async () => {
    const w = world();
    const alice = w.person("alice", { room: "dev" });
    alice.run({ type: "claim" });
    await settled();
    const gus = w.person("gus", { ip: "10.0.0.9", room: "dev", registered: false });
    alice.run({ type: "slow", seconds: "30" });
    await settled();
    gus.say(say("one"));
    w.clock.advance(12_000);
    gus.run({ type: "nick", name: "not-gus" });
    gus.say(say("two"));
    expect(lastError(gus.socket)).toEqual({
      code: "slow-mode",
      message: "dev is in slow mode: one message every 30 s each. You may speak again in 18 s.",
    });
    alice.say(say("a"));
    alice.say(say("b"));
    w.clock.advance(18_000);
    gus.say(say("three"));
    expect(gus.socket.eventsOf("message").map((m) => m.text)).toEqual(["one", "a", "b", "three"]);
    alice.run({ type: "slow", seconds: "0" });
    await settled();
    gus.say(say("four"));
    expect(gus.socket.eventsOf("message").at(-1)?.text).toBe("four");
  });
});

test("slow mode: a guest who registers (or logs in) after speaking still waits", async () => {
  const w = world();
  const alice = w.person("alice", { room: "dev" });
  alice.run({ type: "claim" });
  await settled();
  const gus = w.person("gus", { ip: "10.0.0.9", room: "dev", registered: false });
  alice.run({ type: "slow", seconds: "30" });
  await settled();
  gus.say(say("one"));
  gus.run({ type: "register", password: "correct-horse" });
  await settled();
  await settled();
  expect(gus.member.account).toBe("gus");
  gus.say(say("two"));
  expect(lastError(gus.socket)).toMatchObject({ code: "slow-mode" });
  expect(gus.socket.eventsOf("message").map((m) => m.text)).toEqual(["one"]);
});

describe("deleting a message, and the log", () => {
  test("a deleted message leaves history, the room is told its number, and later joiners never see it", async () => {
    const w = world();
    const alice = w.person("alice", { room: "dev" });
    alice.run({ type: "claim" });
    await settled();
    const gus = w.person("gus", { ip: "10.0.0.9", room: "dev", registered: false });
    gus.say(say("keep me"));
    gus.say(say("something awful"));
    const seq = gus.socket.eventsOf("message").at(-1)!.seq;
    alice.run({ type: "delete", seq: String(seq) });
    await settled();
    expect(gus.socket.eventsOf("deleted")).toEqual([{ type: "deleted", room: "dev", seq }]);
    const later = w.person("lee", { ip: "10.0.0.4", room: "dev", registered: false });
    expect(later.socket.eventsOf("message").map((m) => m.text)).toEqual(["keep me"]);
    alice.run({ type: "delete", seq: "99" });
    expect(lastError(alice.socket)).toEqual({ code: "not-found", message: "dev has no message #99." });
    alice.run({ type: "modlog" });
    expect(
      alice.socket
        .eventsOf("modlog")
        .at(-1)
        ?.entries.map((e) => e.text),
    ).toEqual(["alice claimed dev: they own it now", `alice removed message #${seq}`]);
    gus.run({ type: "modlog" });
    expect(lastError(gus.socket)?.code).toBe("forbidden");
  });
});
