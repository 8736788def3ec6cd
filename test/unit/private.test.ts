/**
 * Private messages (server/private/) in the chat core, without sockets: who gets one, what is
 * refused, what is kept for a registered person who is away, ignoring, /r, and the budget of
 * different people an address writes to. test/private.test.ts checks the same over real sockets,
 * across instances with Redis.
 */
import { describe, expect, test } from "bun:test";
import { KEPT_MESSAGES } from "../../server/private/inbox";
import { RECIPIENTS_PER_WINDOW, WINDOW_MS } from "../../server/private/recipients";
import { chatWith } from "./fake-chat";

const dm = (to: string, text: string, id?: string) => JSON.stringify({ type: "dm", to, text, ...(id && { id }) });
const command = (type: string, fields: Record<string, string>) => JSON.stringify({ type, ...fields });
/** Lets the promises of a send (state writes) settle. */
const settled = () => new Promise((resolve) => setTimeout(resolve, 0));

/** A chat whose accounts hash passwords with a fast fake (the real argon2id is in test/accounts.test.ts). */
function accountsChat(limits: Parameters<typeof chatWith>[0] = {}) {
  const passwords = {
    hash: async (password: string) => `hashed:${password}`,
    verify: async (password: string, hash: string) => hash === `hashed:${password}`,
  };
  return chatWith(limits, {}, undefined, { accounts: { guests: true, registration: true, passwords } });
}

type Made = ReturnType<typeof accountsChat>;

/** Registers `name` (password "correct-horse") from a connection that then leaves; the account stays. */
async function register({ connect, disconnect }: Made, name: string): Promise<void> {
  const owner = connect({ name });
  owner.say(command("register", { password: "correct-horse" }));
  await loggedIn(owner);
  disconnect(owner.member);
}

/** A new connection logged in to `name`'s account with its password; its session token. */
async function logIn({ connect }: Made, name: string) {
  const device = connect();
  device.say(command("login", { name, password: "correct-horse" }));
  return { ...device, token: await loggedIn(device) };
}

async function loggedIn(device: { socket: { eventsOf(type: "account"): { token?: string }[] } }): Promise<string> {
  for (let tries = 0; tries < 50; tries++) {
    const token = device.socket.eventsOf("account").at(-1)?.token;
    if (token) return token;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  throw new Error("not logged in");
}

describe("a private message", () => {
  test("reaches its two people and nobody else, and no room's history keeps it", async () => {
    const { chat, connect } = chatWith();
    const alice = connect({ name: "alice" });
    const bob = connect({ name: "bob" });
    const carol = connect({ name: "carol" });
    alice.say(dm("BOB", "psst", "m1"));
    await settled();
    const sent = {
      type: "dm" as const,
      from: { name: "alice", address: alice.member.address },
      to: { name: "bob", address: bob.member.address },
      text: "psst",
      time: expect.any(String),
      id: "m1",
    };
    expect(bob.socket.eventsOf("dm")).toEqual([sent]);
    expect(alice.socket.eventsOf("dm")).toEqual([sent]);
    expect(carol.socket.eventsOf("dm")).toEqual([]);
    expect(carol.socket.frames.some((f) => f.includes("psst"))).toBe(false);
    expect(chat.directory.recent("chat")).toEqual([]);
    const later = connect({ name: "dave" });
    expect(later.socket.frames.some((f) => f.includes("psst"))).toBe(false);
  });

  test("a plain-text client gets one line marked private", async () => {
    const { connect } = chatWith();
    const alice = connect({ name: "alice" });
    const bob = connect({ name: "bob", json: false });
    alice.say(dm("bob", "two\nlines"));
    await settled();
    expect(bob.socket.frames.at(-1)).toBe(`[private] alice (${alice.member.address}) → bob: two\n  lines`);
  });

  test("to a guest who is not here: not-here, with the message's id; nobody else hears of it", async () => {
    const { connect } = chatWith();
    const alice = connect({ name: "alice" });
    const bob = connect({ name: "bob" });
    alice.say(dm("nobody", "hello?", "m2"));
    await settled();
    expect(alice.socket.eventsOf("error")).toEqual([
      {
        type: "error",
        code: "not-here",
        message: "Nobody called nobody is here (and it is not a registered name).",
        id: "m2",
      },
    ]);
    expect(bob.socket.frames.some((f) => f.includes("hello?"))).toBe(false);
  });

  test("is refused without a name, to oneself, empty, too long or to a name that cannot be one", async () => {
    const { connect } = chatWith({ maxMessage: 100 });
    const nameless = connect();
    nameless.say(dm("bob", "hi"));
    const alice = connect({ name: "alice" });
    alice.say(dm("ALICE", "me"));
    alice.say(dm("bob", "\u0007"));
    alice.say(dm("bob", "x".repeat(101)));
    alice.say(dm("b o b", "hi"));
    await settled();
    expect(nameless.socket.eventsOf("error").map((e) => e.code)).toEqual(["name-invalid"]);
    expect(alice.socket.eventsOf("error").map((e) => e.code)).toEqual([
      "bad-command",
      "empty-message",
      "too-long",
      "name-invalid",
    ]);
  });

  test("sendPrivate works without a connection, for a sender such as the HTTP API's", async () => {
    const { chat, connect } = chatWith();
    const bob = connect({ name: "bob" });
    const { sendPrivate } = await import("../../server/private/private");
    const sent = await sendPrivate(chat, { name: "deploybot", address: "api" }, "bob", "deployed", "d1");
    expect(sent).toMatchObject({ type: "dm", to: { name: "bob" }, id: "d1" });
    expect(bob.socket.eventsOf("dm")).toEqual([expect.objectContaining({ text: "deployed" })]);
    expect(await sendPrivate(chat, { name: "deploybot", address: "api" }, "ghost", "x")).toMatchObject({
      code: "not-here",
    });
  });
});

describe("a registered person", () => {
  test("gets it on every connection logged in, and the sender's other devices show it too", async () => {
    const made = accountsChat();
    await register(made, "bob");
    await register(made, "alice");
    const [bob1, bob2, alice1, alice2] = [
      await logIn(made, "bob"),
      await logIn(made, "bob"),
      await logIn(made, "alice"),
      await logIn(made, "alice"),
    ];
    const carol = made.connect({ name: "carol" });
    alice1.say(dm("bob", "to both of you", "d1"));
    await settled();
    for (const device of [bob1, bob2, alice1, alice2])
      expect(device.socket.eventsOf("dm")).toEqual([
        expect.objectContaining({ from: expect.objectContaining({ name: "alice" }), id: "d1" }),
      ]);
    expect(carol.socket.eventsOf("dm")).toEqual([]);
    // Either device answers, and both of alice's see it.
    bob2.say(command("reply", { text: "got it" }));
    await settled();
    for (const device of [alice1, alice2, bob1])
      expect(device.socket.eventsOf("dm").at(-1)).toMatchObject({ text: "got it" });
  });

  test("who is away has it kept, shown to the sender as kept, and given at their next login", async () => {
    const made = accountsChat();
    await register(made, "Bob");
    const alice = made.connect({ name: "alice" });
    alice.say(dm("bob", "see you", "k1"));
    await settled();
    expect(alice.socket.eventsOf("dm")).toEqual([
      expect.objectContaining({ to: { name: "Bob", address: "" }, kept: true, id: "k1" }),
    ]);
    const bob = await logIn(made, "bob");
    await settled();
    expect(bob.socket.eventsOf("inbox")).toEqual([
      { type: "inbox", messages: [expect.objectContaining({ text: "see you", id: "k1" })], dropped: 0 },
    ]);
    // Given once: the next login finds nothing.
    const again = await logIn(made, "bob");
    await settled();
    expect(again.socket.eventsOf("inbox")).toEqual([]);
    // And /r answers whoever wrote last.
    bob.say(command("reply", { text: "back now" }));
    await settled();
    expect(alice.socket.eventsOf("dm").at(-1)).toMatchObject({ from: { name: "Bob" }, text: "back now" });
  });

  test("logging in with a session token on connecting gives what was kept, after the welcome", async () => {
    const made = accountsChat();
    await register(made, "bob");
    const device = await logIn(made, "bob");
    made.disconnect(device.member);
    const alice = made.connect({ name: "alice" });
    alice.say(dm("bob", "while you slept"));
    await settled();
    const bob = made.connect({ session: device.token });
    await settled();
    const types = bob.socket.events.map((e) => e.type);
    expect(types.slice(0, 2)).toEqual(["welcome", "account"]);
    expect(bob.socket.eventsOf("inbox")).toEqual([
      expect.objectContaining({ messages: [expect.objectContaining({ text: "while you slept" })] }),
    ]);
  });

  test("what was kept for an account goes with it: whoever registers the name next gets none of it", async () => {
    const made = accountsChat();
    await register(made, "Bob");
    const alice = made.connect({ name: "alice" });
    alice.say(dm("bob", "for the old bob", "k2"));
    await settled();
    const bob = await logIn(made, "bob");
    bob.say(command("ignore", { name: "alice" }));
    await settled();
    // Bob reads nothing and gives the name up; a stranger registers it.
    bob.say(command("unregister", { password: "correct-horse" }));
    await settled();
    await register(made, "BOB");
    const stranger = await logIn(made, "bob");
    await settled();
    expect(stranger.socket.eventsOf("inbox")).toEqual([]);
    expect(stranger.socket.eventsOf("ignoring").at(-1)?.names ?? []).toEqual([]);
  });

  test("what is kept for one person is bounded: the oldest are let go of, and counted", async () => {
    const made = accountsChat({ burst: 1000 });
    await register(made, "bob");
    const alice = made.connect({ name: "alice" });
    for (let n = 1; n <= KEPT_MESSAGES + 5; n++) alice.say(dm("bob", `n${n}`));
    await new Promise((resolve) => setTimeout(resolve, 50));
    const bob = await logIn(made, "bob");
    await settled();
    const [inbox] = bob.socket.eventsOf("inbox");
    expect(inbox!.dropped).toBe(5);
    expect(inbox!.messages.map((m) => m.text)).toEqual(Array.from({ length: KEPT_MESSAGES }, (_, i) => `n${i + 6}`));
  });

  test("its bytes are counted as kept, in JSON: quotes, which double there, do not make it twice as big", async () => {
    const made = accountsChat({ burst: 1000, maxMessage: 40_000 });
    await register(made, "bob");
    const alice = made.connect({ name: "alice" });
    // Each 20,000 quotes, kept as 40,000 bytes: two are more than KEPT_BYTES (64 KiB).
    for (let n = 1; n <= 3; n++) alice.say(dm("bob", `${n}${'"'.repeat(20_000)}`));
    await new Promise((resolve) => setTimeout(resolve, 50));
    const bob = await logIn(made, "bob");
    await settled();
    const [inbox] = bob.socket.eventsOf("inbox");
    expect(inbox!.dropped).toBe(2);
    expect(inbox!.messages.map((m) => m.text[0])).toEqual(["3"]);
  });
});

describe("ignoring", () => {
  test("refuses their private messages without telling them; unignoring lets them through again", async () => {
    const { connect } = chatWith();
    const alice = connect({ name: "alice" });
    const bob = connect({ name: "bob" });
    bob.say(command("ignore", { name: "ALICE" }));
    await settled();
    expect(bob.socket.eventsOf("ignoring")).toEqual([{ type: "ignoring", names: ["ALICE"] }]);
    alice.say(dm("bob", "you there?", "i1"));
    await settled();
    expect(bob.socket.eventsOf("dm")).toEqual([]);
    // The sender sees it as sent, like any other, and no error.
    expect(alice.socket.eventsOf("dm")).toEqual([expect.objectContaining({ id: "i1" })]);
    expect(alice.socket.eventsOf("error")).toEqual([]);
    bob.say(command("unignore", { name: "alice" }));
    await settled();
    expect(bob.socket.eventsOf("ignoring").at(-1)).toEqual({ type: "ignoring", names: [] });
    alice.say(dm("bob", "now?"));
    await settled();
    expect(bob.socket.eventsOf("dm").map((e) => e.text)).toEqual(["now?"]);
    bob.say(command("unignore", { name: "alice" }));
    await settled();
    expect(bob.socket.eventsOf("error").map((e) => e.code)).toEqual(["not-found"]);
  });

  test("a registered person's list is kept with the account: on every device, told at login, and nothing is kept from them", async () => {
    const made = accountsChat();
    await register(made, "bob");
    const bob = await logIn(made, "bob");
    const other = await logIn(made, "bob");
    bob.say(command("ignore", { name: "alice" }));
    await settled();
    for (const device of [bob, other])
      expect(device.socket.eventsOf("ignoring")).toEqual([{ type: "ignoring", names: ["alice"] }]);
    made.disconnect(bob.member);
    made.disconnect(other.member);
    const alice = made.connect({ name: "alice" });
    alice.say(dm("bob", "hello"));
    await settled();
    expect(alice.socket.eventsOf("dm")).toEqual([expect.objectContaining({ kept: true })]);
    const again = await logIn(made, "bob");
    await settled();
    expect(again.socket.eventsOf("ignoring")).toEqual([{ type: "ignoring", names: ["alice"] }]);
    expect(again.socket.eventsOf("inbox")).toEqual([]);
  });
});

describe("/r", () => {
  test("answers the last person who wrote; with nobody, says so", async () => {
    const { connect } = chatWith();
    const alice = connect({ name: "alice" });
    const bob = connect({ name: "bob" });
    const carol = connect({ name: "carol" });
    bob.say(command("reply", { text: "hm", id: "r0" }));
    alice.say(dm("bob", "from alice"));
    carol.say(dm("bob", "from carol"));
    bob.say(command("reply", { text: "hi carol" }));
    await settled();
    expect(bob.socket.eventsOf("error")).toEqual([expect.objectContaining({ code: "not-found", id: "r0" })]);
    expect(carol.socket.eventsOf("dm").at(-1)).toMatchObject({ from: { name: "bob" }, text: "hi carol" });
    expect(alice.socket.eventsOf("dm").map((e) => e.text)).toEqual(["from alice"]);
  });
});

describe("/r to a guest", () => {
  test("goes to that guest, or to nobody once they left: not to whoever has the name now", async () => {
    const { connect, disconnect } = chatWith();
    const ann = connect({ name: "ann" });
    const ben = connect({ name: "ben" });
    ben.say(dm("ann", "hi ann"));
    await settled();
    disconnect(ben.member); // a clean leave: the name is free at once
    const impostor = connect({ name: "ben" });
    ann.say(command("reply", { text: "the code is 1234", id: "r1" }));
    await settled();
    expect(impostor.socket.eventsOf("dm")).toEqual([]);
    expect(ann.socket.eventsOf("error")).toEqual([expect.objectContaining({ code: "not-here", id: "r1" })]);
  });
});

describe("the budget of different people an address writes to", () => {
  test(`${RECIPIENTS_PER_WINDOW} a minute; the same people again are free; it comes back`, async () => {
    const { clock, connect } = chatWith();
    const alice = connect({ name: "alice" });
    const bob = connect({ name: "bob" });
    alice.say(dm("bob", "first"));
    for (let n = 2; n <= RECIPIENTS_PER_WINDOW; n++) alice.say(dm(`p${n}`, "x"));
    await settled();
    clock.advance(10_000);
    alice.say(dm("p11", "one too many", "over"));
    alice.say(dm("bob", "bob again"));
    await settled();
    const errors = alice.socket.eventsOf("error");
    expect(errors.filter((e) => e.code === "not-here")).toHaveLength(RECIPIENTS_PER_WINDOW - 1);
    expect(errors.at(-1)).toEqual({
      type: "error",
      code: "rate-limited",
      message: `Your address has written privately to ${RECIPIENTS_PER_WINDOW} different people in the last 60 s: wait 50 s, or write to someone you wrote to just now.`,
      id: "over",
    });
    expect(bob.socket.eventsOf("dm").map((e) => e.text)).toEqual(["first", "bob again"]);
    // Another connection from the same address shares the budget.
    const again = connect({ name: "alice2" });
    again.say(dm("p12", "x"));
    await settled();
    expect(again.socket.eventsOf("error").at(-1)).toMatchObject({ code: "rate-limited" });
    clock.advance(WINDOW_MS);
    alice.say(dm("p11", "later"));
    await settled();
    expect(alice.socket.eventsOf("error").at(-1)).toMatchObject({ code: "not-here" });
  });

  test("leaving and coming back does not start it over, though the address's other budgets are forgotten", async () => {
    const { chat, clock, connect } = chatWith();
    const spammer = connect({ name: "spammer" });
    for (let n = 1; n <= RECIPIENTS_PER_WINDOW; n++) spammer.say(dm(`p${n}`, "x"));
    await settled();
    spammer.socket.close();
    clock.advance(15_000);
    chat.budgets.forgetIdle();
    expect(chat.budgets.size).toBe(0);
    const back = connect({ name: "spammer" });
    back.say(dm("p11", "x", "over"));
    await settled();
    expect(back.socket.eventsOf("error").at(-1)).toMatchObject({ code: "rate-limited", id: "over" });
  });
});
