/**
 * The JSON protocol (chat.v1.json) over real sockets: negotiation, events, errors, and JSON and
 * plain-text clients sharing a room.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { COMMANDS } from "../common/commands";
import { SUBPROTOCOL } from "../common/events";
import { jsonClient, type RunningServer, startServer, TestSocket } from "./helpers";

describe("the JSON protocol (chat.v1.json)", () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer(["--history", "0"]);
  });
  afterAll(() => server.stop());

  test("the subprotocol is negotiated; a client is welcomed and told its room and its members", async () => {
    const { socket, address } = await jsonClient(server, "?name=jay&room=json1");
    expect(socket.socket.protocol).toBe(SUBPROTOCOL);
    expect(address).toMatch(/^127\.0\.0\.1:\d+$/);
    const [welcome, joined] = socket.events;
    expect(welcome).toEqual({
      type: "welcome",
      you: { name: "jay", address },
      version: expect.any(String),
      limits: { rate: 5, burst: 20, maxMessage: 65536, announceLimit: 100 },
      resume: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/),
    });
    expect(joined).toEqual({
      type: "joined",
      room: "json1",
      members: [{ name: "jay", address }],
      count: 1,
      history: 0,
      seq: 0,
    });
    socket.close();
  });

  test("JSON and text clients share a room and see each other's messages, each in its own format", async () => {
    const { socket: json, address } = await jsonClient(server, "?room=mixed");
    const text = await TestSocket.open(`${server.url}/?room=mixed&name=tex`);
    await json.waitForEvent("tex joining", (e) => e.type === "notice" && e.event === "join");
    json.send(JSON.stringify({ type: "say", text: "from json" }));
    expect(await text.waitForMessage("the JSON client's message", (m) => m.endsWith("from json"))).toBe(
      `${address}: from json`,
    );
    text.send("from text");
    const event = await json.waitForEvent("the text client's message", (e) => e.text === "from text");
    expect(event).toEqual({
      type: "message",
      room: "mixed",
      seq: 2,
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      from: { name: "tex", address: expect.stringMatching(/^127\.0\.0\.1:\d+$/) },
      text: "from text",
    });
    json.close();
    text.close();
  });

  test("sequence numbers count per room", async () => {
    const { socket: a } = await jsonClient(server, "?room=seqA");
    a.send(JSON.stringify({ type: "say", text: "a1" }));
    a.send(JSON.stringify({ type: "say", text: "a2" }));
    a.send(JSON.stringify({ type: "join", room: "seqB" }));
    a.send(JSON.stringify({ type: "say", text: "b1" }));
    const b1 = await a.waitForEvent("b1", (e) => e.text === "b1");
    const a2 = a.events.find((e) => e.text === "a2")!;
    expect([a2.room, a2.seq, b1.room, b1.seq]).toEqual(["seqA", 2, "seqB", 1]);
    a.close();
  });

  test("malformed or unknown input gets an error event and the connection stays open", async () => {
    const { socket } = await jsonClient(server, "?room=bad");
    const cases: [string, string, string][] = [
      ["not json", "bad-command", 'Not JSON: expected a command such as {"type":"say","text":"hello"}.'],
      ["[1,2]", "bad-command", 'A command is a JSON object such as {"type":"say","text":"hello"}.'],
      [
        '{"type":"dance"}',
        "unknown-command",
        `Unknown command type "dance"; known: ${COMMANDS.map((c) => c.type).join(", ")}.`,
      ],
      ['{"type":"say"}', "bad-command", 'The command "say" needs a non-empty string "text".'],
      ['{"type":"say","text":42}', "bad-command", 'The command "say" needs a non-empty string "text".'],
      [
        '{"type":"join","room":"no spaces"}',
        "room-invalid",
        "A room can only have letters, digits, '_', '-' and '.'; 'no spaces' has other characters.",
      ],
      ['{"type":"join","room":"bad"}', "no-change", "You are already in bad."],
    ];
    for (const [frame, code, message] of cases) {
      const before = socket.messages.length;
      socket.send(frame);
      await socket.waitForMessages(before + 1);
      expect(JSON.parse(socket.messages[before]!)).toEqual({ type: "error", code, message });
    }
    socket.send(JSON.stringify({ type: "say", text: "still here" }));
    expect((await socket.waitForEvent("the message", (e) => e.text === "still here")).type).toBe("message");
    expect(socket.closed).toBeUndefined();
    socket.close();
  });

  test("who, rooms and help answer with events", async () => {
    const { socket, address } = await jsonClient(server, "?name=asker&room=asking");
    for (const type of ["who", "rooms", "help"]) socket.send(JSON.stringify({ type }));
    expect(await socket.waitForEvent("members", (e) => e.type === "members")).toEqual({
      type: "members",
      room: "asking",
      members: [{ name: "asker", address }],
    });
    const rooms = await socket.waitForEvent("rooms", (e) => e.type === "rooms");
    expect(rooms.rooms).toContainEqual({ name: "asking", members: 1 });
    expect(rooms.rooms[0].name).toBe("chat");
    const help = await socket.waitForEvent("help", (e) => e.type === "help");
    expect(help.commands).toContainEqual({ usage: "/join ROOM", help: "move to another room (same rules as names)" });
    socket.close();
  });
});
