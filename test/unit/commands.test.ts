/** The command table (common/commands.ts): typed lines, JSON commands and /help come from it alike. */
import { describe, expect, test } from "bun:test";
import {
  COMMANDS,
  carriesSecret,
  decodeCommand,
  HELP,
  missingSecret,
  parseTyped,
  secretStart,
} from "../../common/commands";

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
    ["/msg bob hi there", { type: "dm", to: "bob", text: "hi there" }],
    ["/login alice pass word ", { type: "login", name: "alice", password: "pass word" }],
    ["/password old new one", { type: "password", old: "old", new: "new one" }],
    ["/ban bob 2h spam and flood", { type: "ban", target: "bob", duration: "2h", reason: "spam and flood" }],
    ["/ban bob spam", { type: "ban", target: "bob", reason: "spam" }],
    ["/ban 203.0.113.0/24", { type: "ban", target: "203.0.113.0/24" }],
    ["/mute bob", { type: "mute", name: "bob" }],
    ["/kick bob go away", { type: "kick", name: "bob", reason: "go away" }],
    ["/delete 12", { type: "delete", seq: "12" }],
    ["/r ok", { type: "reply", text: "ok" }],
  ])("%p", (line, command) => {
    expect(parseTyped(line)).toEqual(command as never);
  });

  test.each([
    ["/nick", "/nick needs a name, e.g. /nick alice."],
    ["/join   ", "/join needs a room, e.g. /join dev."],
    ["/me", "/me needs an action, e.g. /me waves."],
    ["/login", "/login needs a name and a password, e.g. /login alice correct-horse."],
    ["/msg bob", "/msg needs a message, e.g. /msg bob hi."],
    [
      "/dm bob hi",
      "There is no command /dm; /help lists the commands (start with // to send a message beginning with /).",
    ],
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

const KNOWN = COMMANDS.map((c) => c.type).join(", ");

describe("JSON commands", () => {
  test("every command of the table decodes, with its argument", () => {
    for (const spec of COMMANDS) {
      const args: readonly { field: string; example: string }[] = "arguments" in spec ? spec.arguments : [];
      const command = { type: spec.type, ...Object.fromEntries(args.map((a) => [a.field, a.example])) };
      expect(decodeCommand(JSON.stringify({ ...command, extra: 1 }))).toEqual(command as never);
    }
  });

  test("a message number may come as a JSON number", () => {
    expect(decodeCommand('{"type":"older","before":120}')).toEqual({ type: "older", before: "120" });
    expect(decodeCommand('{"type":"delete","seq":123}')).toEqual({ type: "delete", seq: "123" });
    expect(decodeCommand('{"type":"slow","seconds":0}')).toEqual({ type: "slow", seconds: "0" });
  });

  test.each([
    ["not json", 'Not JSON: expected a command such as {"type":"say","text":"hello"}.'],
    ["[1]", 'A command is a JSON object such as {"type":"say","text":"hello"}.'],
    ['{"type":"dance"}', `Unknown command type "dance"; known: ${KNOWN}.`],
    ['{"type":"toString"}', `Unknown command type "toString"; known: ${KNOWN}.`],
    ['{"type":"say","text":"  "}', 'The command "say" needs a non-empty string "text".'],
    ['{"type":"nick","name":5}', 'The command "nick" needs a non-empty string "name".'],
    ['{"type":"login","name":"alice"}', 'The command "login" needs a non-empty string "password".'],
    [
      '{"type":"dm","to":"bob","text":"hi","id":"no spaces"}',
      `A message's "id" is 1 to 64 letters, digits, '_' or '-'.`,
    ],
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
    "/msg NAME TEXT",
    "/r TEXT",
    "/ignore NAME",
    "/unignore NAME",
    "/register PASSWORD",
    "/login NAME PASSWORD",
    "/session TOKEN",
    "/logout",
    "/password OLD NEW",
    "/unregister PASSWORD",
    "/claim",
    "/mod NAME",
    "/unmod NAME",
    "/kick NAME [REASON]",
    "/ban TARGET [DURATION] [REASON]",
    "/unban TARGET",
    "/bans",
    "/mute NAME [DURATION]",
    "/unmute NAME",
    "/topic TEXT",
    "/slow SECONDS",
    "/delete N",
    "/modlog",
    "/help",
    "/quit",
    "//TEXT",
  ]);
  expect(HELP.every((h) => h.help.length > 0)).toBe(true);
});

test("a client knows a typed line that carries or leaves out a password", () => {
  expect(carriesSecret("/login alice pw")).toBe(true);
  expect(carriesSecret("/LOGIN alice")).toBe(true);
  expect(carriesSecret("/password a b")).toBe(true);
  expect(carriesSecret("//login alice pw")).toBe(false);
  expect(carriesSecret("/nick alice")).toBe(false);
  expect(missingSecret("/login alice")).toEqual({ type: "login", secrets: ["a password"], given: ["alice"] });
  expect(missingSecret("/register")).toEqual({ type: "register", secrets: ["a password"], given: [] });
  expect(missingSecret("/register pw")).toBeUndefined();
  expect(missingSecret("/nick alice")).toBeUndefined();
  // Where a client takes the rest of the line into a masked field: once the password begins.
  expect(secretStart("/login alice")).toBeUndefined();
  expect(secretStart("/login ")).toBeUndefined();
  expect(secretStart("/login alice ")).toBe(13);
  expect(secretStart("/login  alice  hunter22")).toBe(15);
  expect(secretStart("/register ")).toBe(10);
  expect(secretStart("/password old new")).toBe(10);
  expect(secretStart("/nick alice ")).toBeUndefined();
  expect(secretStart("//login alice ")).toBeUndefined();
});
