/**
 * Moderation against those who would dodge it or stretch it, in the chat core without sockets:
 * a banned or muted account that logs out and takes another name, a moderator banning addresses,
 * claims made all at once, the unbanned told so, and a banned address's refusals in the log.
 */
import { describe, expect, test } from "bun:test";
import { CLOSE_BANNED } from "../../common/codes";
import { LocalState } from "../../server/state/local";
import type { RowCheck, SharedState } from "../../server/state/state";
import { say } from "./fake-chat";
import { lastError, moderationNotices, settled, world } from "./moderation-world";

/** An owner, alice, of dev; and the world she owns it in. */
async function ownedDev() {
  const w = world();
  const alice = w.person("alice", { ip: "10.0.0.1", room: "dev" });
  alice.run({ type: "claim" });
  await settled();
  return { w, alice };
}

describe("a restricted account does not get away by logging out", () => {
  test("muted in dev: logged out, under another name, still muted; /unmute NAME frees the address too", async () => {
    const { w, alice } = await ownedDev();
    const eve = w.person("eve", { ip: "10.0.0.9", room: "dev" });
    alice.run({ type: "mute", name: "eve" });
    await settled();
    eve.run({ type: "logout" });
    eve.run({ type: "nick", name: "eve2" });
    await settled();
    expect(eve.member.account).toBeNull();
    eve.say(say("you cannot stop me"));
    expect(lastError(eve.socket)?.code).toBe("muted");
    expect(alice.socket.eventsOf("message").map((m) => m.text)).toEqual([]);
    alice.run({ type: "unmute", name: "eve" });
    await settled();
    eve.say(say("thanks"));
    expect(alice.socket.eventsOf("message").map((m) => m.text)).toEqual(["thanks"]);
  });

  test("banned from dev: someone else on the address is told whose it was; logged out, under another name, still out", async () => {
    const { w, alice } = await ownedDev();
    const eve = w.person("eve", { ip: "10.0.0.9", room: "dev" });
    const flatmate = w.person("flo", { ip: "10.0.0.9", room: "dev", registered: false });
    alice.run({ type: "ban", target: "eve", reason: "rude" });
    await settled();
    expect(w.moderation.bans.table.get("dev account:eve")?.addresses).toEqual(["10.0.0.9"]);
    expect([eve.member.room, flatmate.member.room]).toEqual(["chat", "chat"]);
    expect(moderationNotices(eve.socket)).toEqual(["You were banned from dev by alice: rude."]);
    expect(moderationNotices(flatmate.socket)).toContain(
      "Your address (10.0.0.9), which eve came from, was banned from dev by alice: rude.",
    );
    eve.run({ type: "logout" });
    eve.run({ type: "nick", name: "eve2" });
    await settled();
    eve.run({ type: "join", room: "dev" });
    expect(lastError(eve.socket)).toEqual({ code: "banned", message: "You are banned from dev by alice: rude." });
    expect(w.connect({ name: "eve3", ip: "10.0.0.9", room: "dev" }).member.room).toBe("chat");
    alice.run({ type: "unban", target: "eve" });
    await settled();
    eve.run({ type: "join", room: "dev" });
    expect(eve.member.room).toBe("dev");
  });

  test("an operator's ban of an account bars its addresses at the upgrade, but never an address of someone it may not reach", async () => {
    const w = world();
    const root = w.person("root", { ip: "10.0.0.2" });
    const mallory = w.person("mallory", { ip: "203.0.113.7" });
    w.person("mallory", { ip: "2001:db8:1:2::5" });
    // Bob shares an address with root: an account ban must not bar root's own address.
    const bob = w.person("bob", { ip: "10.0.0.2" });
    root.run({ type: "ban", target: "mallory", duration: "1h" });
    root.run({ type: "ban", target: "bob" });
    await settled();
    expect(mallory.socket.closedWith?.code).toBe(CLOSE_BANNED);
    expect(w.moderation.admission("203.0.113.7")).toBe("You are banned from this chat by root (1 h more).");
    expect(w.moderation.admission("2001:db8:1:2::99")).toContain("banned");
    expect(bob.socket.closedWith?.code).toBe(CLOSE_BANNED);
    expect(w.moderation.admission("10.0.0.2")).toBeUndefined();
    root.run({ type: "unban", target: "mallory" });
    await settled();
    expect(w.moderation.admission("203.0.113.7")).toBeUndefined();
    expect(w.moderation.admission("2001:db8:1:2::99")).toBeUndefined();
  });
});

test("only operators ban an address or network: a moderator of the default room cannot lock anyone out at the upgrade", async () => {
  const w = world();
  const root = w.person("root", { ip: "10.1.2.3" });
  const bob = w.person("bob", { ip: "198.51.100.4" });
  root.run({ type: "mod", name: "bob" });
  await settled();
  expect(w.moderation.rankOf(bob.member)).toBe("moderator");
  bob.run({ type: "ban", target: "10.0.0.0/8" });
  await settled();
  expect(lastError(bob.socket)).toEqual({
    code: "forbidden",
    message:
      "Only operators may ban an address or network: ban a person by name (a guest's name bans the address they came from).",
  });
  expect(w.moderation.admission("10.1.2.3")).toBeUndefined();
  bob.run({ type: "ban", target: "203.0.113.7" });
  expect(lastError(bob.socket)?.code).toBe("forbidden");
  expect(w.moderation.bans.table.size).toBe(0);
  // A guest is still banned by name, which is their address.
  w.person("gus", { ip: "203.0.113.7", registered: false });
  bob.run({ type: "ban", target: "gus" });
  await settled();
  expect(w.moderation.admission("203.0.113.7")).toContain("banned");
});

/**
 * Tables kept in memory whose `create` is kept a turn of the event loop later, as Redis answers:
 * claims made at once all count the rooms owned before any of them is made.
 */
function slowCreates(): SharedState {
  const state = new LocalState(undefined);
  const table = state.table.bind(state);
  state.table = <T>(name: string, check: RowCheck<T>) =>
    new Proxy(table(name, check), {
      get(target, property) {
        if (property === "create")
          return (key: string, value: T) =>
            new Promise((turn) => setImmediate(turn)).then(() => target.create(key, value));
        const value = Reflect.get(target, property, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  return state;
}

test("claims made at once from many connections still leave a person owning at most 10 rooms", async () => {
  const w = world({}, slowCreates());
  const connections = Array.from({ length: 16 }, (_, n) =>
    w.person("alice", { ip: `10.0.1.${n + 1}`, room: `room${n}` }),
  );
  for (const alice of connections) alice.run({ type: "claim" });
  for (let n = 0; n < 5; n++) await settled();
  const owned = [...w.moderation.roles.owners.entries()].filter(([, row]) => row.name === "alice");
  expect(owned.length).toBeLessThanOrEqual(10);
  const refused = connections.filter((alice) => lastError(alice.socket)?.code === "forbidden");
  expect(refused.length).toBe(16 - owned.length);
});

test("the person unbanned is told so, wherever they are", async () => {
  const { w, alice } = await ownedDev();
  const gus = w.person("gus", { ip: "10.0.0.9", room: "dev", registered: false });
  alice.run({ type: "ban", target: "gus" });
  await settled();
  expect(gus.member.room).toBe("chat");
  alice.run({ type: "unban", target: "gus" });
  await settled();
  expect(moderationNotices(gus.socket).at(-1)).toBe("You are no longer banned from dev (unbanned by alice)");
});

test("a banned address refused is one line in the server's log, at most once a minute, saying who banned it and until when", async () => {
  const w = world();
  const root = w.person("root", { ip: "10.0.0.2" });
  w.person("gus", { ip: "203.0.113.7", registered: false });
  root.run({ type: "ban", target: "gus", duration: "2h", reason: "spam" });
  await settled();
  for (let n = 0; n < 5; n++) w.moderation.admission("203.0.113.7");
  w.moderation.admission("198.51.100.1");
  await settled();
  const refusals = () => w.log.text.split("\n").filter((line) => line.startsWith("Refused"));
  expect(refusals()).toEqual([
    "Refused banned address 203.0.113.7 (gus's): banned by root until 2026-12-04T14:00:00.000Z: spam",
  ]);
  w.later(60_000);
  w.moderation.admission("203.0.113.7");
  await settled();
  expect(refusals()).toHaveLength(2);
});
