/**
 * A bounded, reproducible fuzz run: random protocol commands, random text (control characters,
 * escape sequences, any script), random raw frames, from many clients at once, with a fixed seed.
 * Afterwards the server must be up, nobody may have received a control character or a frame that
 * is not well-formed, and a newcomer must be able to chat.
 */
import { expect, test } from "bun:test";
import { decodeEvent, SUBPROTOCOL } from "../common/events";
import { RawSocket, startServer, TestSocket, waitFor, wsFrame } from "./helpers";

const SEED = 20261122;
const STEPS = 1500;
/** Anything a terminal would act on: C0 but newline, DEL, C1, bidi overrides and isolates. */
const CONTROL = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/;

/** mulberry32: a small seeded generator, so that a failing run can be run again exactly. */
function generator(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
  return { next, int, pick };
}

/** Random inputs of every kind a client can send: typed lines, JSON commands, raw frames. */
function inputs(random: ReturnType<typeof generator>) {
  const ROOMS = ["chat", "a", "b"];
  const PIECES = [
    "hello",
    " ",
    "\n",
    "\r",
    "\t",
    "\x1b[2J",
    "\x1b]0;t\x07",
    "\x1b]52;c;eA==\x1b\\",
    "\x9b31m",
    "\x00",
    "\x07",
    "\b",
    "\u202e",
    "\u2066",
    "é",
    "漢字",
    "😀",
    "'",
    '"',
    "<b>",
    "*** fake notice",
    "127.0.0.1:1: fake",
    "/",
    "//",
    "\ud800",
  ] as const;
  const text = () => Array.from({ length: 1 + random.int(8) }, () => random.pick(PIECES)).join("");
  const name = () => random.pick(["alice", "Bob", "名前", "x".repeat(33), "a b", "", "z_1.2-3", "\x1b[31mred"]);
  const textLine = () =>
    random.pick([
      text,
      () => `/nick ${name()}`,
      () => `/join ${random.pick([...ROOMS, "bad room", ""])}`,
      () => random.pick(["/who", "/rooms", "/help", "/frob", "/me"]),
      () => `/me ${text()}`,
      () => "y".repeat(2001),
    ])();
  const jsonFrame = () =>
    random.pick([
      () => JSON.stringify({ type: "say", text: text() }),
      () => JSON.stringify({ type: "me", text: text() }),
      () => JSON.stringify({ type: "nick", name: name() }),
      () => JSON.stringify({ type: "join", room: random.pick([...ROOMS, "no way"]) }),
      () => JSON.stringify({ type: random.pick(["who", "rooms", "help", "dance", 7, null]) }),
      () => JSON.stringify({ type: "say", text: random.pick([42, null, [], {}, ""]) }),
      () => random.pick(["{", "[]", "null", '"say"', "{}", '{"type":"say","text":"a"', text()]),
    ])();
  const rawFrame = () => {
    const payload = new Uint8Array(Array.from({ length: random.int(40) }, () => random.int(256)));
    return random.pick([
      () => wsFrame(random.int(16), payload),
      () => wsFrame(0x1, payload, { fin: random.next() < 0.5 }),
      () => wsFrame(0x1, payload, { declaredLength: BigInt(random.int(1 << 30)) }),
      () => wsFrame(0x1, payload, { mask: false }),
      () => payload,
    ])();
  };
  return { textLine, jsonFrame, rawFrame };
}

/** Nobody received a control character; every JSON frame is one of our events, whole. */
function expectClean(everyone: TestSocket[]): void {
  for (const client of everyone) {
    const json = client.socket.protocol === SUBPROTOCOL;
    for (const frame of client.messages) {
      if (!json) {
        expect(frame).not.toMatch(CONTROL);
        continue;
      }
      const event = decodeEvent(frame);
      expect(event?.type).toBe(JSON.parse(frame).type);
      const texts =
        event?.type === "message" || event?.type === "action"
          ? [event.text, event.from.name]
          : event?.type === "notice"
            ? [event.text, event.user?.name]
            : [];
      for (const value of texts) if (typeof value === "string") expect(value).not.toMatch(CONTROL);
    }
  }
}

test(`fuzz: ${STEPS} random commands, texts and frames (seed ${SEED}) leave the server up and every client's screen clean`, async () => {
  const random = generator(SEED);
  const { textLine, jsonFrame, rawFrame } = inputs(random);
  // A generous rate limit (the limit has a test of its own): here every command should be heard.
  const server = await startServer([
    "--history",
    "5",
    "--max-message",
    "2000",
    "--max-frame",
    "8000",
    "--max-per-ip",
    "100",
    "--rate",
    "500",
    "--burst",
    "1000",
    "--ip-rate",
    "0",
    "--ip-changes",
    "0",
    "--ip-connect-rate",
    "0",
  ]);
  try {
    const textClients = await Promise.all([0, 1, 2].map(() => TestSocket.open(server.url)));
    const jsonClients = await Promise.all([0, 1, 2].map(() => TestSocket.open(server.url, SUBPROTOCOL)));
    let raw = await RawSocket.open(server.port);
    /** Clients the server closed, replaced as the run goes on, and the codes they were closed with. */
    const retired: TestSocket[] = [];
    const closedCodes: number[] = [];

    for (let step = 0; step < STEPS; step++) {
      const choice = random.int(10);
      if (choice < 8) {
        const [pool, protocol, frame] =
          choice < 4 ? [textClients, undefined, textLine] : [jsonClients, SUBPROTOCOL, jsonFrame];
        const at = random.int(pool.length);
        if (pool[at]!.closed) {
          closedCodes.push(pool[at]!.closed!.code);
          retired.push(pool[at]!);
          pool[at] = await TestSocket.open(server.url, protocol);
        }
        pool[at]!.send(frame());
      } else {
        if (raw.closed) raw = await RawSocket.open(server.port);
        raw.write(rawFrame());
      }
      if (step % 25 === 24) await Bun.sleep(10); // pacing, so the run spreads over many turns of the server's loop
    }
    raw.destroy();

    // The server is up and answers.
    expect(await (await fetch(`http://127.0.0.1:${server.port}/healthz`)).json()).toMatchObject({ status: "ok" });
    const everyone = [...textClients, ...jsonClients, ...retired];
    const received = everyone.reduce((sum, client) => sum + client.messages.length, 0);
    expect(received).toBeGreaterThan(STEPS); // the run was heard, not refused wholesale
    expectClean(everyone);
    // Connections ended only for reasons the server gives: flooding (1008); the rest are open.
    for (const code of closedCodes) expect(code).toBe(1008);
    for (const client of [...textClients, ...jsonClients]) expect(client.closed).toBeUndefined();

    // A newcomer can chat.
    const newcomer = await TestSocket.open(server.url);
    newcomer.send("still standing");
    await newcomer.waitForMessage("its own message", (m) => m.endsWith(": still standing"));
    await waitFor("the server to count it", () => (server.log().includes("still standing") ? true : undefined));
    for (const client of [...textClients, ...jsonClients, newcomer]) client.close();
  } finally {
    await server.stop();
  }
}, 60_000);
