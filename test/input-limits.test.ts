/**
 * Limits on what one client sends: message and frame size, control characters and escape
 * sequences, malformed frames. Real server process, real sockets, hand-made frames.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { SUBPROTOCOL } from "../common/events";
import { RawSocket, type RunningServer, startServer, TestSocket, waitFor, wsFrame } from "./helpers";

/** Anything a terminal would act on: C0 but newline, DEL, C1, bidi overrides and isolates. */
const CONTROL = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/;

describe("limits on what clients send", () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer([
      "--history",
      "0",
      "--rate",
      "0",
      "--ip-rate",
      "0",
      "--max-message",
      "1000",
      "--max-frame",
      "4000",
    ]);
  });
  afterAll(() => server.stop());

  test("a message over --max-message is refused to its sender alone; one at the limit goes", async () => {
    const sender = await TestSocket.open(server.url);
    const watcher = await TestSocket.open(server.url);
    sender.send("x".repeat(1001));
    expect(await sender.waitForMessage("the refusal", (m) => m.startsWith("*** Error"))).toBe(
      "*** Error: That message is 1001 bytes; the limit is 1000. It was not sent.",
    );
    sender.send("é".repeat(501)); // 1002 bytes of UTF-8 in 501 characters
    await sender.waitForMessage("the second refusal", (m) => m.includes("1002 bytes"));
    sender.send("y".repeat(1000));
    expect(await watcher.waitForMessage("the message at the limit", (m) => m.includes("yyy"))).toEndWith(
      `: ${"y".repeat(1000)}`,
    );
    expect(watcher.chat).toHaveLength(1);
    sender.close();
    watcher.close();
  });

  test("a frame over --max-frame closes that connection with 1009 (RFC 6455 §7.4.1); the others go on", async () => {
    const big = await TestSocket.open(server.url);
    const other = await TestSocket.open(server.url);
    big.send("z".repeat(4001));
    const closed = await big.waitForClose();
    expect([closed.code, closed.reason]).toEqual([1009, "Received too big message"]);
    other.send("still fine");
    expect(await other.waitForMessage("its message", (m) => m.endsWith(": still fine"))).toMatch(
      /^127\.0\.0\.1:\d+: still fine$/,
    );
    other.close();
  });

  test("control characters and escape sequences never reach others, in either protocol", async () => {
    const evil = await TestSocket.open(server.url);
    const text = await TestSocket.open(server.url);
    const json = await TestSocket.open(server.url, SUBPROTOCOL);
    await json.waitForEvent("joined", (e) => e.type === "joined");
    const attacks: [string, string][] = [
      ["\x1b]0;owned title\x07after OSC title", "after OSC title"],
      ["\x1b]52;c;ZXZpbA==\x07after OSC 52", "after OSC 52"],
      ["\x1b[2J\x1b[Hafter clear screen", "after clear screen"],
      ["\x9b2J\x9d0;t\x9cafter 8-bit CSI and OSC", "after 8-bit CSI and OSC"],
      ["ab\bc back", "abc back"],
      ["one\rtwo", "one\ntwo"],
      ["\u202Eevil bidi\u202C and \u2066isolate\u2069", "evil bidi and isolate"],
      ["hi\n127.0.0.1:1: I am someone else", "hi\n127.0.0.1:1: I am someone else"],
    ];
    for (const [attack] of attacks) evil.send(attack);
    const lines = await text.waitForChat(attacks.length);
    const events = (await waitFor("all events", () => {
      const said = json.events.filter((e) => e.type === "message");
      return said.length >= attacks.length ? said : undefined;
    })) as { text: string }[];
    for (const [i, [, clean]] of attacks.entries()) expect(events[i]!.text).toBe(clean);
    for (const line of lines) {
      expect(line).not.toMatch(CONTROL);
      // Every line of a message after its first is indented: none can start like a sender's tag.
      for (const continuation of line.split("\n").slice(1)) expect(continuation).toStartWith("  ");
    }
    evil.send("/nick \x1b[31mred");
    expect(await evil.waitForMessage("the refused name", (m) => m.includes("red' has"))).toBe(
      "*** Error: A name can only have letters, digits, '_', '-' and '.'; '\\u001b[31mred' has other characters.",
    );
    evil.send("\x1b[31m\x07");
    expect(await evil.waitForMessage("the refusal", (m) => m.includes("needs some text"))).toBe(
      "*** Error: A message needs some text besides control characters.",
    );
    for (const s of [evil, text, json]) s.close();
  });

  test("malformed frames from a raw TCP socket leave the server up and the others chatting", async () => {
    const healthy = await TestSocket.open(server.url);
    const cases: [string, Uint8Array][] = [
      ["invalid UTF-8 in a text frame", wsFrame(0x1, new Uint8Array([0xc3, 0x28, 0xff]))],
      ["a reserved opcode", wsFrame(0x3, "??")],
      ["a length header of 2^62 bytes", wsFrame(0x1, "short", { declaredLength: 1n << 62n })],
      ["an unmasked client frame", wsFrame(0x1, "no mask", { mask: false })],
      ["a continuation frame with nothing to continue", wsFrame(0x0, "orphan")],
      ["a control frame over 125 bytes", wsFrame(0x9, "p".repeat(200))],
      ["garbage", new Uint8Array(Array.from({ length: 64 }, (_, i) => (i * 37 + 11) & 0xff))],
    ];
    for (const [what, bytes] of cases) {
      const raw = await RawSocket.open(server.port);
      raw.write(bytes);
      await waitFor(`the server to drop the connection that sent ${what}`, () => (raw.closed ? true : undefined));
      healthy.send(`after ${what}`);
      await healthy.waitForMessage(`the message after ${what}`, (m) => m.endsWith(`: after ${what}`));
    }
    healthy.close();
  });
});
