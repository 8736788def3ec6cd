/**
 * Private messages end to end: real server processes (two instances sharing a real redis-server),
 * real sockets, and the terminal client in tmux. The page's side is in private-web.test.ts.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { SUBPROTOCOL } from "../common/events";
import {
  BUN,
  CuttableLink,
  jsonClient,
  pipeClient,
  ROOT,
  type RunningServer,
  settle,
  startRedis,
  startServer,
  Terminal,
  TestSocket,
  waitFor,
} from "./helpers";

const dm = (to: string, text: string, id?: string) => JSON.stringify({ type: "dm", to, text, ...(id && { id }) });
const ADDRESS = "127\\.0\\.0\\.1:\\d+";

describe("private messages across two instances sharing Redis", () => {
  let redis: Awaited<ReturnType<typeof startRedis>>;
  let a: RunningServer;
  let b: RunningServer;
  beforeAll(async () => {
    redis = await startRedis();
    a = await startServer(["--redis", redis.url]);
    b = await startServer(["--redis", redis.url]);
    for (const instance of [a, b]) await instance.waitForLog(/Redis: connected/);
  });
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await redis?.stop();
  });

  /** A JSON client named `name` on `server`, once the other instance knows it is there. */
  async function person(server: RunningServer, name: string, room = "dm") {
    const client = await jsonClient(server, `?name=${name}&room=${room}`);
    await client.socket.waitForEvent("joined", (e) => e.type === "joined");
    return client;
  }
  /** Waits until `watcher` (on the other instance) lists `name` in its room: presence has crossed. */
  async function seen(watcher: TestSocket, name: string): Promise<void> {
    await waitFor(`${name} to be seen elsewhere`, async () => {
      watcher.send(JSON.stringify({ type: "who" }));
      await Bun.sleep(200);
      return watcher.events.some(
        (e) => e.type === "members" && e.members.some((m: { name: string }) => m.name === name),
      )
        ? true
        : undefined;
    });
  }

  test("reaches only its two people, shows on the sender's side, and is in no history or /older", async () => {
    const alice = await person(a, "alice");
    const carol = await person(a, "carol");
    const bob = await person(b, "bob");
    const dave = await person(b, "dave");
    const plain = await TestSocket.open(`${b.url}/?name=erin&room=dm`);
    await seen(alice.socket, "bob");
    alice.socket.send(JSON.stringify({ type: "say", text: "in the room" }));
    alice.socket.send(dm("bob", "just for you", "p1"));
    const got = await bob.socket.waitForEvent("the private message", (e) => e.type === "dm");
    expect(got).toEqual({
      type: "dm",
      from: { name: "alice", address: alice.address },
      to: { name: "bob", address: bob.address },
      text: "just for you",
      time: expect.any(String),
      id: "p1",
    });
    expect(await alice.socket.waitForEvent("the sender's copy", (e) => e.type === "dm")).toEqual(got);
    // Everyone else: the room message, and after it nothing private.
    await settle(dave.socket, carol.socket, plain, alice.socket, bob.socket);
    for (const other of [carol.socket, dave.socket, plain])
      expect(other.messages.filter((m) => m.includes("just for you"))).toEqual([]);
    expect(plain.messages.some((m) => m.endsWith(": in the room"))).toBe(true);

    // Nobody later finds it: not in a joiner's replay, not in /older.
    const late = await person(b, "late");
    const [joined] = late.socket.events.filter((e) => e.type === "joined");
    await late.socket.waitForEvent("the replay", () => late.socket.events.length >= 2 + joined!.history);
    late.socket.send(JSON.stringify({ type: "older", before: 1000 }));
    const earlier = await late.socket.waitForEvent("/older's answer", (e) => e.type === "earlier");
    expect(earlier.messages.map((m: { text: string }) => m.text)).toContain("in the room");
    expect(late.socket.messages.filter((m) => m.includes("just for you"))).toEqual([]);

    // A plain-text client gets one line that no room message can look like.
    alice.socket.send(dm("erin", "hi erin"));
    expect(await plain.waitForMessage("erin's line", (m) => m.includes("hi erin"))).toMatch(
      new RegExp(`^\\[private\\] alice \\(${ADDRESS}\\) → erin: hi erin$`),
    );
    for (const client of [alice.socket, carol.socket, bob.socket, dave.socket, plain, late.socket]) client.close();
  });

  test("to a guest not here: not-here; /ignore refuses silently; /r answers across instances", async () => {
    const alice = await person(a, "alice2");
    const bob = await person(b, "bob2");
    await seen(alice.socket, "bob2");
    alice.socket.send(dm("ghost", "anyone?", "g1"));
    expect(await alice.socket.waitForEvent("not-here", (e) => e.type === "error")).toEqual({
      type: "error",
      code: "not-here",
      message: "Nobody called ghost is here (and it is not a registered name).",
      id: "g1",
    });

    bob.socket.send(JSON.stringify({ type: "ignore", name: "Alice2" }));
    await bob.socket.waitForEvent("the list", (e) => e.type === "ignoring" && e.names.includes("Alice2"));
    alice.socket.send(dm("bob2", "ignored?", "i1"));
    await alice.socket.waitForEvent("the sender's copy", (e) => e.type === "dm" && e.id === "i1");
    await settle(alice.socket, bob.socket);
    expect(bob.socket.events.filter((e) => e.type === "dm")).toEqual([]);
    expect(alice.socket.events.filter((e) => e.type === "error" && e.id === "i1")).toEqual([]);

    bob.socket.send(JSON.stringify({ type: "unignore", name: "alice2" }));
    await bob.socket.waitForEvent("the empty list", (e) => e.type === "ignoring" && e.names.length === 0);
    alice.socket.send(dm("bob2", "now?"));
    await bob.socket.waitForEvent("the message", (e) => e.type === "dm" && e.text === "now?");
    bob.socket.send(JSON.stringify({ type: "reply", text: "yes, now", id: "r1" }));
    const reply = await alice.socket.waitForEvent("the answer", (e) => e.type === "dm" && e.id === "r1");
    expect(reply).toMatchObject({ from: { name: "bob2" }, to: { name: "alice2" }, text: "yes, now" });
    alice.socket.close();
    bob.socket.close();
  });
});

describe("registered people across two instances sharing Redis", () => {
  let redis: Awaited<ReturnType<typeof startRedis>>;
  let a: RunningServer;
  let b: RunningServer;
  beforeAll(async () => {
    redis = await startRedis();
    a = await startServer(["--redis", redis.url]);
    b = await startServer(["--redis", redis.url]);
    for (const instance of [a, b]) await instance.waitForLog(/Redis: connected/);
  });
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await redis?.stop();
  });

  /** A JSON client on `server`, logged in with a session token (a `session.` subprotocol entry) if one is given. */
  async function device(server: RunningServer, query: string, session?: string): Promise<TestSocket> {
    const protocols = session ? `${SUBPROTOCOL}, session.${session}` : SUBPROTOCOL;
    const socket = await TestSocket.open(`${server.url}/${query}`, undefined, 5_000, {
      "Sec-WebSocket-Protocol": protocols,
    });
    await socket.waitForEvent("joined", (e) => e.type === "joined");
    return socket;
  }
  /** Registers `name` from a connection on `server`: that connection, and its session token. */
  async function register(server: RunningServer, name: string): Promise<{ socket: TestSocket; token: string }> {
    const socket = await device(server, `?name=${name}&room=reg`);
    socket.send(JSON.stringify({ type: "register", password: "correct-horse-42" }));
    const { token } = await socket.waitForEvent("the token", (e) => e.type === "account" && e.token);
    return { socket, token };
  }

  test("every connection of each of the two people gets it, on either instance; nobody else does", async () => {
    const alice = await register(a, "ally");
    const bob = await register(b, "bert");
    const ally2 = await device(b, "?room=reg", alice.token);
    const bert2 = await device(a, "?room=reg", bob.token);
    const bystander = await device(a, "?name=stander&room=reg");
    await waitFor("bert to be seen on the other instance", async () => {
      alice.socket.send(JSON.stringify({ type: "who" }));
      await Bun.sleep(200);
      return alice.socket.events.some(
        (e) => e.type === "members" && e.members.some((m: { name: string }) => m.name === "bert"),
      )
        ? true
        : undefined;
    });
    alice.socket.send(dm("bert", "to all your devices", "all1"));
    for (const socket of [alice.socket, ally2, bob.socket, bert2])
      expect(await socket.waitForEvent("the message", (e) => e.type === "dm" && e.id === "all1")).toMatchObject({
        from: { name: "ally", registered: true },
        to: { name: "bert" },
        text: "to all your devices",
      });
    await settle(bystander, alice.socket, bob.socket);
    expect(bystander.messages.filter((m) => m.includes("to all your devices"))).toEqual([]);
    for (const socket of [alice.socket, ally2, bob.socket, bert2, bystander]) socket.close();
  });

  test("to a registered person who is away: kept, and given at their next login on the other instance", async () => {
    const owner = await register(a, "carla");
    owner.socket.close();
    const sender = await device(b, "?name=dan&room=reg");
    sender.send(dm("carla", "for when you are back", "k1"));
    expect(await sender.waitForEvent("the sender's copy", (e) => e.type === "dm")).toMatchObject({
      to: { name: "carla", address: "" },
      kept: true,
      id: "k1",
    });
    const back = await device(b, "?room=reg");
    back.send(JSON.stringify({ type: "login", name: "carla", password: "correct-horse-42" }));
    const inbox = await back.waitForEvent("what was kept", (e) => e.type === "inbox", 10_000);
    expect(inbox).toMatchObject({
      dropped: 0,
      messages: [{ from: { name: "dan" }, to: { name: "carla" }, text: "for when you are back", id: "k1", kept: true }],
    });
    // Given once: a second device logging in later finds nothing kept.
    const later = await device(a, "?room=reg", owner.token);
    await settle(later, back);
    expect(later.events.filter((e) => e.type === "inbox")).toEqual([]);
    for (const socket of [sender, back, later]) socket.close();
  });
});

describe("the budget of different people an address writes to", () => {
  let server: RunningServer;
  beforeAll(async () => {
    // A server of its own, so that the other tests' frames leave the address's message budget whole.
    server = await startServer();
  });
  afterAll(() => server?.stop());

  test("an address writing to more than 10 different people in a minute is told to wait", async () => {
    const sender = await jsonClient(server, "?name=spammer");
    for (let n = 1; n <= 10; n++) sender.socket.send(dm(`target${n}`, "buy now"));
    sender.socket.send(dm("target11", "buy now", "over"));
    const refused = await sender.socket.waitForEvent("the refusal", (e) => e.type === "error" && e.id === "over");
    expect(refused.code).toBe("rate-limited");
    expect(refused.message).toMatch(/written privately to 10 different people in the last 60 s: wait \d+ s/);
    expect(sender.socket.events.filter((e) => e.type === "error" && e.code === "not-here")).toHaveLength(10);
    sender.socket.close();
  });
});

test("with --redis, an address writing through two instances has one budget of different people, not one on each", async () => {
  const redis = await startRedis();
  const servers: RunningServer[] = [];
  try {
    for (let n = 0; n < 2; n++) servers.push(await startServer(["--redis", redis.url, "--trust-proxy", "127.0.0.1"]));
    for (const server of servers) await server.waitForLog(/Redis: connected/);
    const headers = { "X-Forwarded-For": "203.0.113.5" };
    const senders = await Promise.all(
      servers.map((server, n) => TestSocket.open(`${server.url}/?name=spammer${n}`, SUBPROTOCOL, 5_000, headers)),
    );
    // Eleven different people, through the two instances in turn, each sent once the one before is answered.
    const answers = [];
    for (let n = 1; n <= 11; n++) {
      const sender = senders[n % 2]!;
      sender.send(dm(`target${n}`, "buy now", `to-${n}`));
      answers.push(await sender.waitForEvent(`an answer to ${n}`, (e) => e.type === "error" && e.id === `to-${n}`));
    }
    expect(answers.map((e) => e.code)).toEqual([...Array(10).fill("not-here"), "rate-limited"]);
    for (const sender of senders) sender.close();
  } finally {
    for (const server of servers) await server.stop();
    await redis.stop();
  }
}, 30_000);

describe("the client in pipe mode", () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer(["--history", "0"]);
  });
  afterAll(() => server?.stop());

  test("/msg waits for the message to come back before leaving; one refused makes the exit code 1", async () => {
    const bob = await jsonClient(server, "?name=bob");
    const sender = pipeClient(["--name", "piper", server.url]);
    sender.write("/msg bob from a script");
    sender.proc.stdin.end();
    expect(await sender.proc.exited).toBe(0);
    expect(sender.out.stdout).toMatch(
      new RegExp(`^From server: \\[private\\] piper \\(${ADDRESS}\\) → bob: from a script$`, "m"),
    );
    await bob.socket.waitForEvent("the message", (e) => e.type === "dm" && e.text === "from a script");

    const lost = pipeClient(["--name", "piper2", server.url]);
    lost.write("/msg ghost anyone?");
    lost.proc.stdin.end();
    expect(await lost.proc.exited).toBe(1);
    expect(lost.out.stdout).toContain("From server: *** Error: Nobody called ghost is here");
    bob.socket.close();
  });

  test("a guest's ignore list is given back to the server after a reconnection, without a word on screen", async () => {
    const proxy = new CuttableLink(server.port);
    const client = pipeClient(["--json", "--name", "ig", `127.0.0.1:${proxy.port}`]);
    try {
      client.write("/ignore carol");
      await client.waitForOutput("the list", (o) => o.includes('"names":["carol"]'));
      proxy.cut();
      proxy.restore();
      await client.waitForStderr("the reconnection", (e) => e.includes("Reconnected"));
      // The server knows the list again: unignoring is not refused as "you do not ignore carol".
      client.write("/unignore carol");
      await client.waitForOutput("the empty list", (o) => o.includes('"names":[]'));
      expect(client.out.stdout).not.toContain('"code":"not-found"');
      expect(client.out.stdout.match(/"type":"ignoring"/g)).toHaveLength(2);
    } finally {
      client.proc.kill("SIGKILL");
      proxy.stop();
    }
  });
});

describe("the terminal client", () => {
  let server: RunningServer;
  const terminal = new Terminal();
  beforeAll(async () => {
    server = await startServer(["--history", "0"]);
  });
  afterAll(async () => {
    terminal.stop();
    await server?.stop();
  });

  test("marks private lines apart from the room's (→ you, you →), and hides the room messages of someone ignored", async () => {
    await terminal.start(["env", "NO_COLOR=1", BUN, join(ROOT, "client.ts"), "--name", "tess", server.url], {
      columns: 100,
      rows: 30,
    });
    await terminal.waitForScreen("the input line", (s) => s.includes("◆  tess in chat"));
    const alice = await jsonClient(server, "?name=alice");
    const carol = await jsonClient(server, "?name=carol");
    alice.socket.send(dm("tess", "psst, tess"));
    const screen = await terminal.waitForScreen("the private line", (s) => s.includes("psst, tess"));
    expect(screen).toMatch(new RegExp(`\\n»  \\d\\d:\\d\\d  alice \\(${ADDRESS}\\) → you: psst, tess\\n`));

    await terminal.type("/r thanks alice");
    await terminal.press("Enter");
    await alice.socket.waitForEvent("the answer", (e) => e.type === "dm" && e.text === "thanks alice");
    expect(await terminal.waitForScreen("our line", (s) => s.includes("thanks alice"))).toMatch(
      /\n» {2}\d\d:\d\d {2}you → alice: thanks alice\n/,
    );

    await terminal.type("/ignore carol");
    await terminal.press("Enter");
    await terminal.waitForScreen("the list", (s) => s.includes("You ignore carol"));
    carol.socket.send(JSON.stringify({ type: "say", text: "carol speaks" }));
    alice.socket.send(JSON.stringify({ type: "say", text: "alice speaks" }));
    await terminal.waitForScreen("alice's message", (s) => s.includes("alice speaks"));
    expect(await terminal.screen()).not.toContain("carol speaks");

    // In colour, a private line's mark is not a room line's.
    const coloured = await terminalInColour(server);
    expect(coloured).toMatch(/\x1b\[35m(?:\x1b\[49m)?»/);
    alice.socket.close();
    carol.socket.close();
  });
});

/** A second terminal client, in colour, sent a private message: its screen with the escape sequences. */
async function terminalInColour(server: RunningServer): Promise<string> {
  const terminal = new Terminal();
  try {
    await terminal.start([BUN, join(ROOT, "client.ts"), "--name", "tint", server.url], { columns: 100, rows: 30 });
    await terminal.waitForScreen("the input line", (s) => s.includes("tint in chat"));
    const sender = await jsonClient(server, "?name=painter");
    sender.socket.send(dm("tint", "in colour"));
    await terminal.waitForScreen("the private line", (s) => s.includes("in colour"));
    sender.socket.close();
    return await terminal.screen({ colours: true });
  } finally {
    terminal.stop();
  }
}
