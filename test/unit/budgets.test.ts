/**
 * Budgets that hold per address and for the whole server, on the chat core with fake members (no
 * sockets): reconnecting does not refill them, many rooms and much history do not grow memory
 * past its bound, and readers that do not read are closed. open-network.test.ts checks the same
 * against the real server process.
 */
import { describe, expect, test } from "bun:test";
import { ManualClock } from "../../common/clock";
import { addressPrefix } from "../../server/addresses";
import { AddressBudgets } from "../../server/budgets";
import { eventBytes } from "../../server/event-bytes";
import { History } from "../../server/history";
import { clientAddress, parseNetworks } from "../../server/proxy";
import { chatWith, type FakeSocket, LIMITS, say } from "./fake-chat";

describe("address prefixes", () => {
  test("IPv4 by /32 or /24, IPv6 by /64; anything else is its own", () => {
    expect(addressPrefix("203.0.113.7", 32, 64)).toBe("203.0.113.7/32");
    expect(addressPrefix("203.0.113.7", 24, 64)).toBe("203.0.113.0/24");
    expect(addressPrefix("203.0.113.7", 0, 64)).toBe("0.0.0.0/0");
    expect(addressPrefix("2001:db8:0:1:aaaa:bbbb:cccc:dddd", 32, 64)).toBe("2001:db8:0:1:0:0:0:0/64");
    expect(addressPrefix("[2001:db8:0:1::ffff]", 32, 64)).toBe("2001:db8:0:1:0:0:0:0/64");
    expect(addressPrefix("2001:db8::1", 32, 48)).toBe("2001:db8:0:0:0:0:0:0/48");
    expect(addressPrefix("2001:db8:0:1::ffff", 32, 60)).toBe(addressPrefix("2001:db8:0:f::", 32, 60));
    expect(addressPrefix("::1", 32, 128)).toBe("0:0:0:0:0:0:0:1/128");
    expect(addressPrefix("unknown", 32, 64)).toBe("unknown");
    expect(addressPrefix("1::2::3", 32, 64)).toBe("1::2::3");
  });

  test("an address's budget is forgotten once it has no connection and has refilled", () => {
    const clock = new ManualClock();
    const budgets = new AddressBudgets(
      { ...LIMITS, ipRate: 1000, burst: 1, ipChanges: 1000, ipConnectRate: 1000, ipReplay: 1_000_000 },
      clock,
    );
    try {
      for (let i = 0; i < 100; i++) budgets.of(`2001:db8:${i.toString(16)}::1`).messages.take();
      const open = budgets.of("10.0.0.1");
      open.open = 1;
      expect(budgets.size).toBe(101);
      budgets.forgetIdle();
      expect(budgets.size).toBe(101); // each spent a token: not refilled yet
      clock.advance(3); // 1000 a second, a burst of 3: refilled in 3 ms
      budgets.forgetIdle();
      expect(budgets.size).toBe(1);
      open.open = 0;
      budgets.forgetIdle();
      expect(budgets.size).toBe(0);
    } finally {
      budgets.stop();
    }
  });
});

describe("per address, whatever the connections", () => {
  test("reconnecting does not refill the message budget: 10 connections of 20 messages deliver the address's burst", () => {
    const { connect, disconnect } = chatWith({ rate: 5, burst: 20, ipRate: 20 });
    const watcher = connect({ ip: "10.9.9.9" });
    for (let i = 0; i < 10; i++) {
      const loop = connect();
      for (let j = 0; j < 20; j++) loop.say(say(`${i}.${j}`));
      disconnect(loop.member);
    }
    // The address's bucket holds 3 × --burst = 60, and the clock stood still meanwhile.
    expect(watcher.socket.eventsOf("message").length).toBe(60);
  });

  test("another address is not held back by one that spent its budget", () => {
    const { connect } = chatWith({ rate: 0, burst: 5, ipRate: 5 });
    const greedy = connect();
    for (let j = 0; j < 30; j++) greedy.say(say(`g${j}`));
    expect(greedy.socket.eventsOf("error").at(-1)?.message).toBe(
      "Your address is sending too fast: at most 5 messages a second from all its connections together. This one was not sent.",
    );
    const other = connect({ ip: "10.0.0.2" });
    other.say(say("mine"));
    expect(
      other.socket
        .eventsOf("message")
        .filter((e) => !e.history)
        .map((e) => e.text),
    ).toEqual(["mine"]);
  });

  test("renames and room changes share one budget per address", () => {
    const { connect } = chatWith({ ipChanges: 1 });
    const first = connect();
    const second = connect();
    for (let i = 0; i < 10; i++) first.say(JSON.stringify({ type: "nick", name: `n${i}` }));
    for (let i = 0; i < 10; i++) second.say(JSON.stringify({ type: "join", room: `r${i}` }));
    const renames = first.socket
      .eventsOf("notice")
      .filter((n) => n.event === "rename" && n.user?.address === first.member.address).length;
    const joins = second.socket.eventsOf("joined").length - 1;
    expect(renames + joins).toBe(15);
    expect(second.socket.eventsOf("error").at(-1)?.message).toBe(
      "Too many renames, room changes and moderation commands from your address: at most 1 a second. Wait a moment and try again.",
    );
  });

  test("a replay is cut to the address's replay budget, newest first, and the rest is counted as missed", () => {
    const { connect } = chatWith({ ipReplay: 1000 });
    const talker = connect({ ip: "10.0.0.2" });
    for (let i = 0; i < 30; i++) talker.say(say(`${i} ${"x".repeat(500)}`));
    const size = eventBytes({
      type: "message",
      room: "chat",
      seq: 1,
      time: "",
      from: talker.member.user,
      text: `10 ${"x".repeat(500)}`,
    });
    const fits = Math.floor(16_000 / size);
    const first = connect({ since: 0 });
    expect(first.socket.eventsOf("message").map((e) => Number(e.text.split(" ")[0]))).toEqual(
      Array.from({ length: fits }, (_, i) => 30 - fits + i),
    );
    expect(first.socket.eventsOf("joined")[0]).toMatchObject({ missed: 30 - fits });
    // The budget is the address's: a second connection from it now gets nothing replayed.
    const second = connect();
    expect(second.socket.eventsOf("message")).toEqual([]);
  });
});

describe("for the whole server", () => {
  test("past --max-rooms a new room is refused; rooms with people in them can still be joined", () => {
    const { connect } = chatWith({ maxRooms: 3 });
    const a = connect({ room: "one" });
    const b = connect({ room: "two" });
    const c = connect();
    c.say(JSON.stringify({ type: "join", room: "three" }));
    expect(c.socket.eventsOf("error")[0]?.message).toBe(
      "The server has as many rooms as it allows (3); join one that has people in it (/rooms lists them).",
    );
    c.say(JSON.stringify({ type: "join", room: "two" }));
    expect(c.socket.eventsOf("joined").at(-1)).toMatchObject({ room: "two" });
    const d = connect({ room: "four" });
    expect(d.socket.eventsOf("joined")[0]).toMatchObject({ room: "chat" });
    expect(a.member.room).toBe("one");
    expect(b.member.room).toBe("two");
  });

  test("history stays within its byte budget, the least recently used rooms let go first, and occupied rooms keep their numbering", () => {
    const { connect, history } = chatWith({}, { maxBytes: 50_000, maxRooms: 20 });
    const resident = connect({ room: "resident" });
    resident.say(say("first"));
    const roamer = connect();
    for (let room = 0; room < 100; room++) {
      roamer.say(JSON.stringify({ type: "join", room: `r${room}` }));
      for (let i = 0; i < 5; i++) roamer.say(say("y".repeat(1000)));
      expect(history.usage.bytes).toBeLessThanOrEqual(50_000);
      expect(history.usage.rooms).toBeLessThanOrEqual(20);
    }
    resident.say(say("second"));
    expect(resident.socket.eventsOf("message").map((e) => e.seq)).toEqual([1, 2]);
  });

  test("a replay never gives more than --history, however many events are kept between trims", () => {
    const history = new History(3);
    for (let i = 0; i < 5; i++)
      history.add({ type: "message", room: "r", time: "", from: { name: null, address: "a" }, text: `${i}` });
    const { events, missed } = history.since("r", 0);
    expect(events.map((e) => e.text)).toEqual(["2", "3", "4"]);
    expect(missed).toBe(2);
  });
});

describe("readers that do not read", () => {
  test("a reader that takes nothing of its backlog for --stall-timeout is cut off, though under --max-backlog", () => {
    const { connect, chat } = chatWith({ stallTimeout: 5 });
    const reader = connect();
    const stuck = connect();
    (stuck.socket as FakeSocket).buffered = 100;
    (reader.socket as FakeSocket).buffered = 100;
    chat.readers.sweep([reader.member, stuck.member], 0);
    (reader.socket as FakeSocket).buffered = 50; // it read some
    chat.readers.sweep([reader.member, stuck.member], 4_000);
    expect(stuck.socket.closedWith).toBeUndefined();
    chat.readers.sweep([reader.member, stuck.member], 5_500);
    expect(stuck.socket.closedWith).toEqual({ code: 1006, reason: "terminated" });
    expect(reader.socket.closedWith).toBeUndefined();
  });

  test("past --max-unsent in all, the biggest backlogs are cut off until the rest fit", () => {
    // 2,000 bytes of memory: 1,000 bytes waiting, since a backlog takes up to twice its bytes.
    const { connect, chat } = chatWith({ maxUnsent: 2000, maxBacklog: 100_000 });
    const readers = [300, 900, 200, 500].map((buffered) => {
      const reader = connect();
      (reader.socket as FakeSocket).buffered = buffered;
      return reader;
    });
    chat.readers.sweep(
      readers.map((r) => r.member),
      0,
    );
    expect(readers.map((r) => r.socket.closedWith?.code ?? "open")).toEqual(["open", 1006, "open", "open"]);
    expect(chat.readers.unsent).toBe(1000);
  });
});

describe("behind a reverse proxy", () => {
  const trusted = parseNetworks("127.0.0.1, 10.0.0.0/8, ::1").networks;
  const peer = (ip: string) => ({ ip, port: 5555 });
  const headers = (init: Record<string, string>) => new Headers(init);

  test("a trusted proxy's X-Forwarded-For names the client: the last hop that is not a trusted proxy", () => {
    expect(
      clientAddress(headers({ "X-Forwarded-For": "203.0.113.9" }), peer("127.0.0.1"), trusted, "x-forwarded-for"),
    ).toEqual({
      ip: "203.0.113.9",
      port: 5555,
    });
    // The client wrote 6.6.6.6 itself; our proxy at 10.1.1.1 added what it saw, 198.51.100.4.
    expect(
      clientAddress(
        headers({ "X-Forwarded-For": "6.6.6.6, 198.51.100.4, 10.1.1.1" }),
        peer("127.0.0.1"),
        trusted,
        "x-forwarded-for",
      ),
    ).toEqual({ ip: "198.51.100.4", port: 5555 });
    expect(
      clientAddress(
        headers({ Forwarded: 'for=192.0.2.60;proto=http, for="[2001:db8:cafe::17]:4711"' }),
        peer("::1"),
        trusted,
        "forwarded",
      ),
    ).toEqual({ ip: "2001:db8:cafe::17", port: 4711 });
    expect(
      clientAddress(
        headers({ "X-Forwarded-For": "203.0.113.9" }),
        peer("::ffff:127.0.0.1"),
        trusted,
        "x-forwarded-for",
      ),
    ).toEqual({
      ip: "203.0.113.9",
      port: 5555,
    });
  });

  test("from anyone else, or when the header is not an address, the connection's own address stands", () => {
    expect(
      clientAddress(headers({ "X-Forwarded-For": "203.0.113.9" }), peer("192.0.2.1"), trusted, "x-forwarded-for"),
    ).toEqual(peer("192.0.2.1"));
    expect(
      clientAddress(headers({ "X-Forwarded-For": "203.0.113.9" }), peer("127.0.0.1"), [], "x-forwarded-for"),
    ).toEqual(peer("127.0.0.1"));
    expect(
      clientAddress(headers({ "X-Forwarded-For": "not-an-ip" }), peer("127.0.0.1"), trusted, "x-forwarded-for"),
    ).toEqual(peer("127.0.0.1"));
    expect(clientAddress(headers({}), peer("127.0.0.1"), trusted, "x-forwarded-for")).toEqual(peer("127.0.0.1"));
  });

  test("only the header --proxy-header names is read: the client could have written the other", () => {
    const both = headers({ "X-Forwarded-For": "6.6.6.6", Forwarded: "for=203.0.113.9" });
    expect(clientAddress(both, peer("127.0.0.1"), trusted, "forwarded")).toEqual({ ip: "203.0.113.9", port: 5555 });
    expect(clientAddress(both, peer("127.0.0.1"), trusted, "x-forwarded-for")).toEqual({ ip: "6.6.6.6", port: 5555 });
    const forwardedOnly = headers({ Forwarded: "for=203.0.113.9" });
    expect(clientAddress(forwardedOnly, peer("127.0.0.1"), trusted, "x-forwarded-for")).toEqual(peer("127.0.0.1"));
  });

  test("--trust-proxy's list is checked", () => {
    expect(parseNetworks("10.0.0.0/33").bad).toBe("10.0.0.0/33");
    expect(parseNetworks("proxy.example").bad).toBe("proxy.example");
    expect(parseNetworks("10.0.0.0/8,fd00::/8").networks.map((n) => n.bits)).toEqual([8, 8]);
  });
});
