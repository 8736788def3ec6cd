/** The one event decoder (common/events.ts), used by the clients, the page and the Redis path. */
import { describe, expect, test } from "bun:test";
import { type ChatEvent, decodeEvent, validEvent } from "../../common/events";
import { toText } from "../../common/plain-text";

const alice = { name: "alice", address: "127.0.0.1:5000" };
const EVENTS: ChatEvent[] = [
  { type: "message", room: "chat", seq: 3, time: "2026-01-01T00:00:00.000Z", from: alice, text: "hi" },
  {
    type: "action",
    room: "chat",
    seq: 4,
    time: "2026-01-01T00:00:00.000Z",
    from: { name: null, address: "[::1]:9" },
    text: "waves",
    history: true,
  },
  {
    type: "message",
    room: "dev",
    seq: 5,
    time: "2026-01-01T00:00:00.000Z",
    from: { name: "ci", address: "127.0.0.1:5555", bot: true },
    text: "build green",
  },
  { type: "notice", room: "dev", time: "t", event: "join", user: alice, text: "alice joined dev" },
  { type: "notice", room: "dev", time: "t", event: "rename", user: alice, text: "x is now alice", previousName: null },
  { type: "notice", room: "dev", time: "t", event: "shutdown", text: "bye" },
  {
    type: "welcome",
    you: alice,
    version: "1.0.0",
    limits: { rate: 5, burst: 20, maxMessage: 65536, announceLimit: 100 },
  },
  {
    type: "welcome",
    you: alice,
    version: "1.0.0",
    limits: { rate: 5, burst: 20, maxMessage: 65536 },
    resume: "secret",
  },
  { type: "joined", room: "chat", members: [alice], count: 1, history: 0, seq: 0 },
  { type: "joined", room: "chat", members: [], count: 300, history: 2, seq: 9, missed: 4 },
  { type: "members", room: "chat", members: [alice] },
  {
    type: "members",
    room: "chat",
    members: [
      { ...alice, registered: true, connections: 2 },
      { name: "bot", address: "api", bot: true },
    ],
  },
  { type: "account", name: "alice", token: "Zm9vYmFy", temporary: true },
  { type: "account", name: "alice", text: "Your password is changed; 1 other session was ended." },
  { type: "account", name: null },
  { type: "rooms", rooms: [{ name: "chat", members: 2 }] },
  { type: "help", commands: [{ usage: "/who", help: "list who is in your room" }] },
  { type: "dm", from: alice, to: { name: "bob", address: "" }, text: "hi", time: "t", id: "d1", kept: true },
  {
    type: "inbox",
    messages: [{ type: "dm", from: alice, to: { name: "bob", address: "" }, text: "hi", time: "t", id: "d1" }],
    dropped: 2,
  },
  { type: "ignoring", names: ["carol"] },
  { type: "error", message: "no", code: "bad-command" },
  { type: "error", message: "The name 'alice' is taken; choose another.", code: "name-taken" },
  { type: "error", message: "That message is 70000 bytes; the limit is 65536.", code: "too-long", id: "m1" },
];

const first = (type: ChatEvent["type"]) => EVENTS.find((e) => e.type === type)!;

describe("decodeEvent", () => {
  test.each(EVENTS.map((e) => [e.type, e]))("a %s comes through whole", (_type, event) => {
    expect(decodeEvent(JSON.stringify(event))).toEqual(event);
  });

  test("fields it does not know are left behind", () => {
    const decoded = decodeEvent(
      JSON.stringify({ ...first("message"), __proto__: { evil: 1 }, extra: "x", from: { ...alice, admin: true } }),
    );
    expect(decoded).toEqual(EVENTS[0]!);
  });

  test.each([
    ["not JSON", "{"],
    ["not an object", "[1,2]"],
    ["an unknown type", '{"type":"dance"}'],
    ["a type from Object's prototype", '{"type":"constructor"}'],
    ["a message without a seq", JSON.stringify({ ...first("message"), seq: undefined })],
    ["a message with a negative seq", JSON.stringify({ ...first("message"), seq: -1 })],
    ["a sender that is not a user", JSON.stringify({ ...first("message"), from: "alice" })],
    ["a name that is a number", JSON.stringify({ ...first("message"), from: { name: 5, address: "x" } })],
    ["a notice of an unknown kind", JSON.stringify({ ...first("notice"), event: "explode" })],
    ["a welcome without limits", JSON.stringify({ ...first("welcome"), limits: undefined })],
    ["a joined with a bad member", JSON.stringify({ ...first("joined"), members: [alice, 1] })],
    ["rooms with a bad count", '{"type":"rooms","rooms":[{"name":"chat","members":"2"}]}'],
    ["an error without a message", '{"type":"error"}'],
    ["an account without a name", '{"type":"account"}'],
    ["an account whose name is a number", '{"type":"account","name":7}'],
  ])("%s is refused", (_what, raw) => {
    expect(decodeEvent(raw)).toBeUndefined();
  });

  test("an error code it does not know is kept as it is (a newer server's); one that is not a code becomes 'unknown'", () => {
    expect(decodeEvent('{"type":"error","message":"m","code":"reboot-now"}')).toEqual({
      type: "error",
      message: "m",
      code: "reboot-now" as never,
    });
    expect(decodeEvent('{"type":"error","message":"m","code":"\\u001b[2J"}')).toEqual({
      type: "error",
      message: "m",
      code: "unknown" as never,
    });
  });

  test("a user's marks are kept only as what they are: registered and bot true, connections more than 1", () => {
    const from = { ...alice, registered: "yes", bot: 1, connections: 1 };
    expect(decodeEvent(JSON.stringify({ ...first("message"), from }))).toEqual(EVENTS[0]!);
  });

  test("validEvent takes a value already parsed", () => {
    expect(validEvent(first("rooms"))).toEqual(first("rooms"));
    expect(validEvent(null)).toBeUndefined();
  });
});

describe("toText", () => {
  test("a login gives the session token in words; a logout and a password change say so", () => {
    expect(toText({ type: "account", name: "alice", token: "T0k3n", temporary: true })).toBe(
      "*** You are logged in as alice. This server keeps accounts in memory only: yours lasts until it stops. Your session token (log in again with /session TOKEN, without the password): T0k3n",
    );
    expect(toText({ type: "account", name: "alice" })).toBe("*** You are logged in as alice.");
    expect(toText({ type: "account", name: null })).toBe("*** You are logged out: you are a guest now.");
    expect(toText({ type: "account", name: "alice", text: "Your password is changed." })).toBe(
      "*** Your password is changed.",
    );
  });

  test("a person on several connections is listed once, saying how many", () => {
    const members = [
      { ...alice, registered: true as const, connections: 2 },
      { name: null, address: "[::1]:9" },
    ];
    expect(toText({ type: "members", room: "chat", members })).toBe(
      "*** In chat (2): alice (127.0.0.1:5000) on 2 connections, [::1]:9",
    );
  });
});
