/** The command table (common/commands.ts): typed lines, JSON commands and /help come from it alike. */
import { describe, expect, test } from "bun:test";
import { COMMANDS, decodeCommand, HELP, parseTyped } from "../../common/commands";

describe("typed lines", () => {
  test.each([
    ["hello", { type: "say", text: "hello" }],
    ["//etc/passwd", { type: "say", text: "/etc/passwd" }],
    ["/nick  alice ", { type: "nick", name: "alice" }],
    ["/NICK bob", { type: "nick", name: "bob" }],
    ["/join dev", { type: "join", room: "dev" }],
    ["/me waves at\nyou", { type: "me", text: "waves at\nyou" }],
    ["/who", { type: "who" }],
    ["/older 120", { type: "older", before: "120" }],
    ["/rooms", { type: "rooms" }],
    ["/help", { type: "help" }],
    ["/quit", { type: "quit" }],
  ])("%p", (line, command) => {
    expect(parseTyped(line)).toEqual(command as never);
  });

  test.each([
    ["/nick", "/nick needs a name, e.g. /nick alice."],
    ["/join   ", "/join needs a room, e.g. /join dev."],
    ["/me", "/me needs an action, e.g. /me waves."],
    [
      "/dance",
      "There is no command /dance; /help lists the commands (start with // to send a message beginning with /).",
    ],
    [
      "/say hi",
      "There is no command /say; /help lists the commands (start with // to send a message beginning with /).",
    ],
  ])("%p is refused", (line, message) => {
    expect(() => parseTyped(line)).toThrow(message);
  });
});

describe("JSON commands", () => {
  test("every command of the table decodes, with its argument", () => {
    for (const spec of COMMANDS) {
      const command =
        "argument" in spec ? { type: spec.type, [spec.argument.field]: spec.argument.example } : { type: spec.type };
      expect(decodeCommand(JSON.stringify({ ...command, extra: 1 }))).toEqual(command as never);
    }
  });

  test("a message number may come as a JSON number", () => {
    expect(decodeCommand('{"type":"older","before":120}')).toEqual({ type: "older", before: "120" });
  });

  test.each([
    ["not json", 'Not JSON: expected a command such as {"type":"say","text":"hello"}.'],
    ["[1]", 'A command is a JSON object such as {"type":"say","text":"hello"}.'],
    ['{"type":"dance"}', 'Unknown command type "dance"; known: nick, join, rooms, who, older, me, help, quit, say.'],
    [
      '{"type":"toString"}',
      'Unknown command type "toString"; known: nick, join, rooms, who, older, me, help, quit, say.',
    ],
    ['{"type":"say","text":"  "}', 'The command "say" needs a non-empty string "text".'],
    ['{"type":"nick","name":5}', 'The command "nick" needs a non-empty string "name".'],
  ])("%p is refused", (frame, message) => {
    expect(() => decodeCommand(frame)).toThrow(message);
  });
});

test("/help lists every command of the table once, in its order", () => {
  expect(HELP.map((h) => h.usage)).toEqual([
    "/nick NAME",
    "/join ROOM",
    "/rooms",
    "/who",
    "/older [N]",
    "/me ACTION",
    "/help",
    "/quit",
    "//TEXT",
  ]);
  expect(HELP.every((h) => h.help.length > 0)).toBe(true);
});
