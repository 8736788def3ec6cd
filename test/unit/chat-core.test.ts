/**
 * The chat core (server/chat.ts) on its own: no Bun.serve, no sockets. Fake members record what the
 * core sends them, and a fake hub does what Bun's pub/sub does (publish to a topic's subscribers),
 * so each behaviour is checked in milliseconds. The end-to-end tests check the same over real
 * sockets against the real server process.
 */
import { describe, expect, test } from "bun:test";
import { type ClaimAnswer, LocalDirectory } from "../../server/directory";
import { chatWith, type FakeSocket, say } from "./fake-chat";

describe("joining and leaving", () => {
  test("a member is welcomed, enters the default room, and the room hears of it", () => {
    const { connect } = chatWith();
    const alice = connect({ name: "alice" });
    expect(alice.socket.events.map((e) => e.type)).toEqual(["welcome", "joined"]);
    expect(alice.socket.events[0]).toMatchObject({
      you: { name: "alice", address: alice.member.address },
      limits: { rate: 0, burst: 20, maxMessage: 1000 },
    });
    const bob = connect({ name: "bob" });
    expect(alice.socket.eventsOf("notice")).toEqual([
      expect.objectContaining({ event: "join", room: "chat", text: `bob (${bob.member.address}) joined chat` }),
    ]);
    expect(bob.socket.eventsOf("joined")[0]).toMatchObject({
      room: "chat",
      count: 2,
      members: [{ name: "alice" }, { name: "bob" }],
    });
    // The joiner does not hear of its own joining.
    expect(bob.socket.eventsOf("notice")).toEqual([]);
  });

  test("closing leaves the room and tells it; with no grace period the name is free at once", () => {
    const { connect, disconnect } = chatWith({ nameGrace: 0 });
    const alice = connect({ name: "alice" });
    const bob = connect({ name: "bob" });
    disconnect(alice.member);
    expect(bob.socket.eventsOf("notice").at(-1)).toMatchObject({
      event: "leave",
      text: `alice (${alice.member.address}) left chat`,
    });
    const again = connect({ name: "Alice" });
    expect(again.member.name).toBe("Alice");
    expect(again.socket.eventsOf("error")).toEqual([]);
  });

  test("a departed person's name is held for their resume token alone", () => {
    const { connect, disconnect } = chatWith();
    const alice = connect({ name: "alice" });
    const token = alice.socket.eventsOf("welcome")[0]!.resume;
    expect(token).toMatch(/^[A-Za-z0-9_-]{22}$/);
    disconnect(alice.member, 1006); // dropped, not left
    const thief = connect({ name: "ALICE" });
    expect(thief.socket.eventsOf("error")).toEqual([
      {
        type: "error",
        message:
          "The name 'ALICE' is held for someone who dropped and may come back, for 60 s more; choose another, or try again then.",
        code: "name-held",
      },
    ]);
    const watcher = connect();
    watcher.say(JSON.stringify({ type: "nick", name: "alice" }));
    expect(watcher.socket.eventsOf("error").map((e) => e.code)).toEqual(["name-held"]);
    const back = connect({ name: "alice", resume: token });
    expect(back.member.name).toBe("alice");
    // The same token is kept, so that the person can come back again.
    expect(back.socket.eventsOf("welcome")[0]!.resume).toBe(token);
  });

  test("the directory delivers from the moment it is made: nothing said early is dropped for want of a start", () => {
    // chatWith never starts its chat: the directory delivers all the same.
    const { connect } = chatWith();
    const early = connect();
    early.say(say("early"));
    expect(early.socket.eventsOf("message").map((e) => e.text)).toEqual(["early"]);
  });

  test("someone who leaves on purpose (1000, /quit, a tab's 1001) frees their name at once", () => {
    const { connect, disconnect } = chatWith();
    for (const code of [1000, 1001]) {
      const bot = connect({ name: "bot7" });
      disconnect(bot.member, code);
      const next = connect({ name: "bot7" });
      expect(next.member.name).toBe("bot7");
      disconnect(next.member, code);
    }
    const quitter = connect({ name: "quitter" });
    quitter.say(JSON.stringify({ type: "quit" }));
    expect(quitter.socket.closedWith).toEqual({ code: 1000, reason: "bye" });
    disconnect(quitter.member, 1000);
    expect(connect({ name: "quitter" }).member.name).toBe("quitter");
  });

  test("a message comes back with the id its sender gave it; a refused one names it", () => {
    const { connect } = chatWith({ maxMessage: 20 });
    const alice = connect({ name: "alice" });
    alice.say(JSON.stringify({ type: "say", text: "col1\tcol2", id: "m-1" }));
    alice.say(JSON.stringify({ type: "say", text: "x".repeat(21), id: "m-2" }));
    alice.say(JSON.stringify({ type: "say", text: "ok", id: "bad id!" }));
    expect(alice.socket.eventsOf("message").map((e) => [e.text, e.id])).toEqual([["col1 col2", "m-1"]]);
    expect(alice.socket.eventsOf("error").map((e) => [e.code, e.id, e.message])).toEqual([
      ["too-long", "m-2", "That message is 21 bytes; the limit is 20. It was not sent."],
      ["bad-command", undefined, `A message's "id" is 1 to 64 letters, digits, '_' or '-'.`],
    ]);
  });

  test("the same person on a new connection takes the name from their old one, not yet closed", () => {
    const { connect } = chatWith();
    const alice = connect({ name: "alice" });
    const token = alice.socket.eventsOf("welcome")[0]!.resume;
    const back = connect({ name: "alice", resume: token });
    expect([back.member.name, alice.member.name]).toEqual(["alice", null]);
    // A made-up token gets a name nobody holds, but never someone else's.
    const other = connect({ name: "alice", resume: "x".repeat(22) });
    expect(other.member.name).toBeNull();
  });

  test("a plain-text member gets no greeting, and lines instead of JSON", () => {
    const { connect } = chatWith();
    const plain = connect({ json: false });
    expect(plain.socket.frames).toEqual([]);
    const alice = connect({ name: "alice" });
    alice.say(say("hello"));
    expect(plain.socket.frames).toEqual([
      `*** alice (${alice.member.address}) joined chat`,
      `alice (${alice.member.address}): hello`,
    ]);
  });
});

describe("messages", () => {
  test("go to everyone in the room, the sender included, numbered and tagged with the sender", () => {
    const { connect } = chatWith();
    const alice = connect({ name: "alice" });
    const bob = connect();
    alice.say(say("hello"));
    alice.say(JSON.stringify({ type: "me", text: "waves" }));
    for (const { socket } of [alice, bob]) {
      expect(socket.events.filter((e) => e.type === "message" || e.type === "action")).toEqual([
        {
          type: "message",
          room: "chat",
          seq: 1,
          time: expect.any(String),
          from: { name: "alice", address: alice.member.address },
          text: "hello",
        },
        {
          type: "action",
          room: "chat",
          seq: 2,
          time: expect.any(String),
          from: { name: "alice", address: alice.member.address },
          text: "waves",
        },
      ]);
    }
  });

  test("control characters are cleaned out; a message of nothing else is refused", () => {
    const { connect } = chatWith();
    const alice = connect();
    alice.say(say("\x1b[2Jhi\tthere\r\n"));
    alice.say(say("\x1b[2J\x07"));
    expect(alice.socket.eventsOf("message").map((e) => e.text)).toEqual(["hi there\n"]);
    expect(alice.socket.eventsOf("error").map((e) => e.message)).toEqual([
      "A message needs some text besides control characters.",
    ]);
  });

  test("a message over --max-message is refused to its sender alone", () => {
    const { connect } = chatWith({ maxMessage: 10 });
    const alice = connect();
    const bob = connect();
    alice.say(say("é".repeat(20)));
    expect(alice.socket.eventsOf("error")[0]?.message).toMatch(
      /^That message is \d+ bytes; the limit is 10\. It was not sent\.$/,
    );
    expect(bob.socket.eventsOf("message")).toEqual([]);
  });

  test("whoever enters later is replayed the room's history", () => {
    const { connect } = chatWith();
    const alice = connect({ name: "alice" });
    alice.say(say("one"));
    alice.say(say("two"));
    const bob = connect();
    expect(bob.socket.eventsOf("joined")[0]).toMatchObject({ history: 2, seq: 2 });
    expect(bob.socket.eventsOf("message").map((e) => [e.text, e.history])).toEqual([
      ["one", true],
      ["two", true],
    ]);
  });
});

describe("paging back", () => {
  test("/older without a number goes on from the oldest message given, so typing it again pages further back", () => {
    const { connect } = chatWith();
    const alice = connect({ name: "alice" });
    for (let n = 1; n <= 90; n++) alice.say(say(`m${n}`));
    // History keeps 50 to replay: a newcomer is given 41 to 90; /older gives 1 to 40, then nothing.
    const bob = connect({ name: "bob", json: false });
    const older = () => {
      bob.say("/older");
      const page = bob.socket.frames.at(-1)!;
      return page
        .split("\n")
        .filter((line) => line.startsWith("[history]"))
        .map((line) => line.split(": ")[1]);
    };
    const first = older();
    expect([first[0], first.at(-1), first.length]).toEqual(["m1", "m40", 40]);
    bob.say("/older");
    expect(bob.socket.frames.at(-1)).toBe("*** Nothing earlier in chat.");
  });
});

describe("names", () => {
  test("a taken name is refused regardless of case, to that member alone", () => {
    const { connect } = chatWith();
    connect({ name: "alice" });
    const bob = connect({ name: "bob" });
    bob.say(JSON.stringify({ type: "nick", name: "ALICE" }));
    expect(bob.socket.eventsOf("error").map((e) => e.message)).toEqual(["The name 'ALICE' is taken; choose another."]);
    expect(bob.member.name).toBe("bob");
  });

  test("a rename is told to the room, with the name before it", () => {
    const { connect } = chatWith();
    const alice = connect({ name: "alice" });
    const bob = connect();
    bob.say('{"type":"nick","name":"bob"}');
    expect(alice.socket.eventsOf("notice").at(-1)).toMatchObject({
      event: "rename",
      previousName: null,
      user: { name: "bob" },
      text: `${bob.member.address} is now bob`,
    });
    // The old name is free again after a second rename.
    bob.say('{"type":"nick","name":"robert"}');
    const carol = connect({ name: "bob" });
    expect(carol.member.name).toBe("bob");
  });

  test("a name asked for at connect that is taken is refused, and the member enters without one", () => {
    const { connect } = chatWith();
    connect({ name: "alice" });
    const other = connect({ name: "alice" });
    expect(other.socket.events.map((e) => e.type)).toEqual(["welcome", "error", "joined"]);
    expect(other.member.name).toBeNull();
  });

  test("frames sent while a name is being claimed are held, then handled in order", async () => {
    let answer!: (free: ClaimAnswer) => void;
    const Slow = class extends LocalDirectory {
      override claimName(): Promise<ClaimAnswer> {
        return new Promise((resolve) => (answer = resolve));
      }
    };
    const { connect } = chatWith({}, {}, (sink, history) => new Slow(sink, history));
    const zoe = connect({ name: "zoe" });
    zoe.say(say("first"));
    zoe.say(say("second"));
    expect(zoe.socket.frames).toEqual([]);
    answer("free");
    await Bun.sleep(0);
    expect(zoe.socket.events.map((e) => e.type)).toEqual(["welcome", "joined", "message", "message"]);
    expect(zoe.socket.eventsOf("message").map((e) => [e.text, e.from.name])).toEqual([
      ["first", "zoe"],
      ["second", "zoe"],
    ]);
  });
});

describe("rooms", () => {
  test("/join moves a member: the old room hears it leave, the new one hears it come", () => {
    const { connect } = chatWith();
    const alice = connect({ name: "alice" });
    const bob = connect({ name: "bob" });
    const carol = connect({ name: "carol", room: "dev" });
    bob.say(JSON.stringify({ type: "join", room: "dev" }));
    expect(alice.socket.eventsOf("notice").at(-1)).toMatchObject({ event: "leave", room: "chat" });
    expect(carol.socket.eventsOf("notice").at(-1)).toMatchObject({ event: "join", room: "dev" });
    bob.say(say("in dev"));
    expect(carol.socket.eventsOf("message").map((e) => e.text)).toEqual(["in dev"]);
    expect(alice.socket.eventsOf("message")).toEqual([]);
  });

  test("/rooms lists rooms with people, the default room first; an emptied room is forgotten", () => {
    const { connect, disconnect, chat } = chatWith();
    const alice = connect();
    const zed = connect({ room: "zed" });
    connect({ room: "abc" });
    alice.say(JSON.stringify({ type: "rooms" }));
    expect(alice.socket.eventsOf("rooms")[0]?.rooms).toEqual([
      { name: "chat", members: 1 },
      { name: "abc", members: 1 },
      { name: "zed", members: 1 },
    ]);
    disconnect(zed.member);
    expect(chat.rooms.names().sort()).toEqual(["abc", "chat"]);
  });

  test("/who lists who is in the room", () => {
    const { connect } = chatWith();
    const alice = connect({ name: "alice" });
    connect({ name: "bob" });
    connect({ name: "carol", room: "dev" });
    alice.say(JSON.stringify({ type: "who" }));
    expect(alice.socket.eventsOf("members")[0]?.members.map((m) => m.name)).toEqual(["alice", "bob"]);
  });

  test("a room bigger than --announce-limit hears no joins and leaves, but renames", () => {
    const { connect, disconnect } = chatWith({ announceLimit: 2 });
    const alice = connect({ name: "alice" });
    connect({ name: "bob" }); // a room of 2: told
    connect({ name: "carol" }); // 3: not told
    const dave = connect({ name: "dave" });
    disconnect(dave.member); // back to 3: not told
    alice.say(JSON.stringify({ type: "nick", name: "alicia" }));
    expect(alice.socket.eventsOf("notice").map((n) => [n.event, n.user?.name])).toEqual([
      ["join", "bob"],
      ["rename", "alicia"],
    ]);
  });
});

describe("limits", () => {
  test("past --burst a member is refused, and refused 20 times in a row it is closed as a flooder", () => {
    const { connect } = chatWith({ rate: 1, burst: 3 });
    const alice = connect();
    for (let i = 0; i < 3; i++) alice.say(say(`ok ${i}`));
    alice.say(say("too fast"));
    expect(alice.socket.eventsOf("message").map((e) => e.text)).toEqual(["ok 0", "ok 1", "ok 2"]);
    expect(alice.socket.eventsOf("error")[0]?.message).toBe(
      "You are sending too fast: at most 1 messages a second (3 at once). This one was not sent.",
    );
    for (let i = 0; i < 18; i++) alice.say(say("flood"));
    expect(alice.socket.closedWith).toBeUndefined();
    alice.say(say("flood"));
    expect(alice.socket.closedWith).toEqual({ code: 1008, reason: "flooding: more than 1 messages a second" });
  });

  test("a reader whose backlog passes --max-backlog is cut off when a broadcast reports backpressure", () => {
    const { connect, hub } = chatWith({ maxBacklog: 1024 });
    const alice = connect();
    const slow = connect();
    (slow.socket as FakeSocket).buffered = 5000;
    hub.result = -1;
    alice.say(say("hello"));
    expect(slow.socket.closedWith).toEqual({ code: 1006, reason: "terminated" });
    expect(alice.socket.closedWith).toBeUndefined();
  });

  test("more than 100 frames before entering close the connection with 1008", () => {
    const Stuck = class extends LocalDirectory {
      override claimName(): Promise<ClaimAnswer> {
        return new Promise(() => {});
      }
    };
    const { connect } = chatWith({}, {}, (sink, history) => new Stuck(sink, history));
    const zoe = connect({ name: "zoe" });
    for (let i = 0; i < 100; i++) zoe.say(say("x"));
    expect(zoe.socket.closedWith).toBeUndefined();
    zoe.say(say("x"));
    expect(zoe.socket.closedWith).toEqual({ code: 1008, reason: "too many messages before joining" });
  });
});

describe("shutting down", () => {
  test("every room is told, and every member is closed with 1001", () => {
    const { connect, chat } = chatWith();
    const alice = connect();
    const bob = connect({ room: "dev" });
    chat.closeAll();
    for (const { socket } of [alice, bob]) {
      expect(socket.eventsOf("notice").at(-1)).toMatchObject({ event: "shutdown" });
      expect(socket.closedWith).toEqual({ code: 1001, reason: "server shutting down" });
    }
  });
});
