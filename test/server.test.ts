/** The core chat against the real server process: broadcast to everyone in the room, the sender included, its log, and its options. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import pkg from "../package.json";
import {
  BUN,
  NPM_ONLY_PATH,
  PROGRAM_PATH,
  ROOT,
  RUN,
  type RunningRedis,
  type RunningServer,
  run,
  startRedis,
  startServer,
  TestSocket,
  waitFor,
} from "./helpers";

const SERVER = [BUN, join(ROOT, "server.ts")];

describe("broadcast", () => {
  let server: RunningServer;
  beforeAll(async () => {
    // History off: these tests look at live delivery only, each with clients of its own; no rate
    // limit: the first one sends as fast as it can.
    server = await startServer(["--history", "0", "--rate", "0", "--ip-rate", "0"]);
  });
  afterAll(() => server.stop());

  test("every message reaches all clients, the sender included, tagged with the sender's ip:port, in each sender's order", async () => {
    // Open the clients one at a time and learn each one's address from the server's log.
    const clients: TestSocket[] = [];
    const tags: string[] = [];
    const connectionsBefore = server.log().match(/New connection from/g)?.length ?? 0;
    for (let i = 0; i < 4; i++) {
      clients.push(await TestSocket.open(server.url));
      const lines = await waitFor(`connection ${i} in the log`, () => {
        const all = [...server.log().matchAll(/New connection from (\S+)/g)];
        return all.length >= connectionsBefore + i + 1 ? all : undefined;
      });
      tags.push(lines[connectionsBefore + i]![1]!);
    }
    for (const tag of tags) expect(tag).toMatch(/^127\.0\.0\.1:\d+$/);

    const perSender = 25;
    clients.forEach((client, sender) => {
      for (let n = 1; n <= perSender; n++) client.send(`message ${n} from client ${sender}`);
    });

    const expected = clients.length * perSender;
    for (const client of clients) {
      const received = await client.waitForChat(expected);
      expect(received).toHaveLength(expected);
      clients.forEach((_, sender) => {
        const fromSender = received.filter((m) => m.startsWith(`${tags[sender]}: `));
        expect(fromSender).toEqual(
          Array.from({ length: perSender }, (_, n) => `${tags[sender]}: message ${n + 1} from client ${sender}`),
        );
      });
    }
    for (const client of clients) client.close();
  });

  test("text goes out as written (no quoting); a multi-line message stays one frame, later lines indented", async () => {
    const alice = await TestSocket.open(server.url);
    const bob = await TestSocket.open(server.url);
    alice.send('she said "hi"\nand left  ');
    const [message] = await bob.waitForChat(1);
    expect(message).toMatch(/^127\.0\.0\.1:\d+: she said "hi"\n {2}and left {2}$/);
    expect(await alice.waitForChat(1)).toEqual([message!]);
    alice.close();
    bob.close();
  });

  test("a binary frame is refused with close code 1003 and nothing is broadcast", async () => {
    const sender = await TestSocket.open(server.url);
    const watcher = await TestSocket.open(server.url);
    sender.send(new Uint8Array([1, 2, 3]));
    const closed = await sender.waitForClose();
    expect(closed.code).toBe(1003);
    expect(closed.reason).toBe("binary frames are not chat: send text");
    watcher.send("still here");
    const [first] = await watcher.waitForChat(1);
    expect(first).toEndWith(": still here");
    watcher.close();
  });

  test("GET / is the web page; other paths get 404 and a line on where to go", async () => {
    const page = await fetch(`http://127.0.0.1:${server.port}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toStartWith("text/html");
    expect(await page.text()).toContain("<title>Chat</title>");
    const elsewhere = await fetch(`http://127.0.0.1:${server.port}/elsewhere`);
    expect(elsewhere.status).toBe(404);
    expect(await elsewhere.text()).toBe(
      `Nothing here. The chat is at http://127.0.0.1:${server.port}/ in a browser; terminal and WebSocket clients connect to ws://127.0.0.1:${server.port}, for example:\n  ${RUN.client} ws://127.0.0.1:${server.port}\n`,
    );
  });

  test("the console logs connections, messages and disconnections with their close code", async () => {
    const client = await TestSocket.open(server.url);
    client.send("log me");
    const [echo] = await client.waitForChat(1);
    const tag = echo!.slice(0, echo!.indexOf(": "));
    client.close();
    await server.waitForLog(new RegExp(`Connection from ${tag.replaceAll(".", "\\.")} closed \\(1000\\)`));
    expect(server.log()).toContain(`New connection from ${tag}\n`);
    expect(server.log()).toContain(`Message from ${tag} in chat: log me\n`);
  });

  test("no control characters reach the console log", async () => {
    const client = await TestSocket.open(server.url);
    client.send("\x1b]0;owned\x07two\nlines");
    const [echo] = await client.waitForChat(1);
    const tag = echo!.slice(0, echo!.indexOf(": "));
    const [line] = await server.waitForLog(new RegExp(`Message from ${tag.replaceAll(".", "\\.")} in chat: .*`));
    expect(line).toBe(`Message from ${tag} in chat: two\\nlines`);
    client.close();
  });
});

test("under load, messages past 1000 a second are counted in the log instead of written one by one", async () => {
  const server = await startServer(["--rate", "0", "--ip-rate", "0", "--history", "0"]);
  try {
    const client = await TestSocket.open(server.url);
    const sent = 2500;
    for (let n = 0; n < sent; n++) client.send(`burst ${n}`);
    await client.waitForChat(sent, 10_000);
    // Each second logs at most 1000 one by one; the line counting the rest comes at its end.
    const [, firstCount] = await server.waitForLog(
      /\((\d+) more messages in the last second, too many to log one by one\)/,
      5_000,
    );
    expect(Number(firstCount)).toBeGreaterThan(0);
    const oneByOne = () => server.log().match(/Message from [^\n]* in chat: burst \d+\n/g)?.length ?? 0;
    const inCounts = () =>
      [...server.log().matchAll(/\((\d+) more messages in the last second/g)].reduce((sum, m) => sum + Number(m[1]), 0);
    // A burst straddling two seconds has a count line for each, the second at that second's end.
    await waitFor(
      () => `every message logged or counted (${oneByOne()} + ${inCounts()} of ${sent})`,
      () => (oneByOne() + inCounts() >= sent ? true : undefined),
      3_000,
    );
    expect(oneByOne()).toBeLessThanOrEqual(2000);
    expect(oneByOne() + inCounts()).toBe(sent);
    expect(server.log()).toContain("Message from ");
    client.close();
  } finally {
    await server.stop();
  }
});

describe("options", () => {
  test("--quiet leaves out the per-message lines but keeps connections", async () => {
    const server = await startServer(["--quiet"]);
    try {
      const client = await TestSocket.open(server.url);
      client.send("quietly");
      await client.waitForChat(1);
      client.close();
      await server.waitForLog(/closed \(1000\)/);
      expect(server.log()).toContain("New connection from 127.0.0.1:");
      expect(server.log()).not.toContain("quietly");
    } finally {
      await server.stop();
    }
  });

  test("HOST and PORT come from the environment; IPv6 senders are tagged [addr]:port", async () => {
    const server = await startServer([], { env: { HOST: "::1", PORT: "0" } });
    try {
      expect(server.url).toBe(`ws://[::1]:${server.port}`);
      const client = await TestSocket.open(server.url);
      client.send("over v6");
      const [message] = await client.waitForChat(1);
      expect(message).toMatch(/^\[::1\]:\d+: over v6$/);
      client.close();
    } finally {
      await server.stop();
    }
  });

  test("--help and --version", async () => {
    const help = await run([...SERVER, "--help"]);
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toStartWith(`Usage: ${RUN.server} [options]\n`);
    // The column's width follows the longest option, so the test does not.
    expect(help.stdout).toMatch(
      /^ {2}-p, --port PORT +port to listen on; 0 picks a free one \(env PORT, default 2000\)$/m,
    );
    const version = await run([...SERVER, "--version"]);
    expect(version).toEqual({ exitCode: 0, stdout: `${pkg.version}\n`, stderr: "" });
  });

  test("a bad option or port is one line on stderr and exit code 2", async () => {
    expect(await run([...SERVER, "--colour"])).toEqual({
      exitCode: 2,
      stdout: "",
      stderr: `${RUN.server}: Unknown option '--colour'. Run '${RUN.server} --help' for usage.\n`,
    });
    expect(await run([...SERVER, "--port", "99999"])).toEqual({
      exitCode: 2,
      stdout: "",
      stderr: `${RUN.server}: The port must be a number from 0 to 65535, not '99999'. Run '${RUN.server} --help' for usage.\n`,
    });
    for (const url of ["notaurl", "http://127.0.0.1:6379", "redis://"]) {
      expect(await run([...SERVER, "--redis", url])).toEqual({
        exitCode: 2,
        stdout: "",
        stderr: `${RUN.server}: --redis must be a Redis URL such as redis://127.0.0.1:6379, not '${url}'. Run '${RUN.server} --help' for usage.\n`,
      });
    }
  });

  test.each([
    [["--port"], "Option '--port' needs a value (PORT)."],
    [["-p"], "Option '--port' needs a value (PORT)."],
    [["--port", "--quiet"], "Option '--port' needs a value (PORT)."],
    [["--port", "-1"], "The port must be a number from 0 to 65535, not '-1'."],
    [["--history", "-3"], "--history must be a whole number, not '-3'."],
    [["--rate", "-1"], "--rate must be a whole number, not '-1'."],
    [["--quiet=yes"], "Option '--quiet' takes no value."],
  ])("flag mistakes are named right: %p", async (args, sentence) => {
    expect(await run([...SERVER, ...args])).toEqual({
      exitCode: 2,
      stdout: "",
      stderr: `${RUN.server}: ${sentence} Run '${RUN.server} --help' for usage.\n`,
    });
  });

  test("the hints name the command that works: `npx bun` for Bun from npm only, `bun` with Bun on the PATH", async () => {
    // Both PATHs are built here, so this holds whether or not the machine has a Bun of its own.
    const usage = async (program: string, PATH: string) =>
      (await run([BUN, join(ROOT, program), "--help"], { env: { PATH } })).stdout.split("\n")[0];
    expect(await usage("server.ts", NPM_ONLY_PATH)).toBe("Usage: npx bun server.ts [options]");
    expect(await usage("client.ts", NPM_ONLY_PATH)).toBe("Usage: npx bun client.ts [options] [URL]");
    expect(await usage("server.ts", PROGRAM_PATH)).toBe(`Usage: ${RUN.server} [options]`);
    expect(await usage("client.ts", PROGRAM_PATH)).toBe(`Usage: ${RUN.client} [options] [URL]`);
    expect(RUN.server).toBe("bun server.ts");
  });

  test("listening on every address, the banner gives an address this machine can use", async () => {
    const server = await startServer(["--host", "::"]);
    try {
      expect(server.log()).toContain(
        `Listening on ws://[::]:${server.port}\nConnect a client with: ${RUN.client} ws://127.0.0.1:${server.port}\nOr open http://127.0.0.1:${server.port}/ in a browser\n`,
      );
    } finally {
      await server.stop();
    }
  });

  test("a port already in use is one clear line and exit code 1", async () => {
    const first = await startServer();
    try {
      const second = await run([...SERVER, "--port", String(first.port)]);
      expect(second).toEqual({
        exitCode: 1,
        stdout: "",
        stderr: `${RUN.server}: Could not listen on 127.0.0.1:${first.port}: the port is already in use. Stop the other server or pick another port with --port.\n`,
      });
    } finally {
      await first.stop();
    }
  });

  test("an address this machine does not have is one clear line and exit code 1", async () => {
    const result = await run([...SERVER, "--host", "::2", "--port", "0"]);
    expect(result).toEqual({
      exitCode: 1,
      stdout: "",
      stderr: `${RUN.server}: Could not listen on [::2]:0: this machine has no such address. Use one of its own addresses, e.g. --host 127.0.0.1.\n`,
    });
  });
});

test("`npm start --port N`: npm keeps --port and passes N on alone; the server says to put options after --", async () => {
  const result = await run(["npm", "start", "--port", "43008"], { env: { npm_config_loglevel: "error" } });
  expect(result.exitCode).toBe(2);
  expect(result.stderr).toContain(
    `${RUN.server}: npm took '--port' as its own and passed '43008' on as an argument. Put the options after '--': npm start -- --port 43008. Run '${RUN.server} --help' for usage.\n`,
  );
});

test("with a token, the banner's client command has --token, and the log never shows the token itself", async () => {
  const fromFlag = await startServer(["--token", "flag-secret"]);
  const fromEnv = await startServer([], { env: { CHAT_TOKEN: "env-secret" } });
  try {
    expect(fromFlag.log()).toContain(`\nConnect a client with: ${RUN.client} --token TOKEN ${fromFlag.url}\n`);
    expect(fromEnv.log()).toContain(`\nConnect a client with: ${RUN.client} --token "$CHAT_TOKEN" ${fromEnv.url}\n`);
    expect(fromFlag.log()).not.toContain("flag-secret");
    expect(fromEnv.log()).not.toContain("env-secret");
    // As printed, with CHAT_TOKEN set as the server had it, the command gets in.
    const hinted = await run(["bash", "-c", `${BUN} ${join(ROOT, "client.ts")} --token "$CHAT_TOKEN" ${fromEnv.url}`], {
      input: "let in\n",
      env: { CHAT_TOKEN: "env-secret" },
    });
    expect(hinted.stdout).toMatch(/^From server: 127\.0\.0\.1:\d+: let in\n$/);
  } finally {
    await fromFlag.stop();
    await fromEnv.stop();
  }
});

test("--redis: one line on connecting and one per reconnection, also when the link drops again while catching up", async () => {
  const redis = await startRedis();
  let restarted: RunningRedis | undefined;
  const server = await startServer(["--redis", redis.url]);
  const redisCli = (...args: string[]) =>
    Bun.spawnSync(["redis-cli", "-p", String(redis.port), ...args])
      .stdout.toString()
      .trim();
  const lines = (pattern: RegExp) => server.log().match(pattern) ?? [];
  try {
    await server.waitForLog(/Redis: connected/);
    expect(lines(/^Redis: connected.*$/gm)).toEqual([`Redis: connected to ${redis.url}`]);
    // Writes held, the catch-up after a reconnection stops at its first one; the subscription is cut
    // once, and again while the instance catches up.
    redisCli("CLIENT", "PAUSE", "20000", "WRITE");
    redisCli("CLIENT", "KILL", "TYPE", "pubsub");
    await server.waitForLog(/Redis: lost/);
    const subscribed = () => (redisCli("PUBSUB", "NUMSUB", "chat:events").endsWith("\n1") ? true : undefined);
    await waitFor("the instance subscribed again", subscribed);
    redisCli("CLIENT", "KILL", "TYPE", "pubsub");
    await Bun.sleep(300);
    redisCli("CLIENT", "UNPAUSE");
    await waitFor("the reconnection", () => (lines(/^Redis: connected/gm).length >= 2 ? true : undefined), 10_000);
    await waitFor("the instance subscribed again", subscribed);
    await Bun.sleep(1_500); // A second reconnection, if any, would be logged by now.
    expect(redisCli("PUBSUB", "NUMSUB", "chat:events")).toBe("chat:events\n1");
    // Redis gone for a while: its loss is said once, not again by the first try that fails.
    await redis.stop();
    await waitFor("the loss", () => (lines(/^Redis: lost/gm).length >= 2 ? true : undefined));
    await Bun.sleep(300);
    restarted = await startRedis(redis.port);
    await waitFor("the reconnection", () => (lines(/^Redis: connected/gm).length >= 3 ? true : undefined), 10_000);
    const lost = `Redis: lost Redis at ${redis.url} (…); serving this instance's clients alone, retrying`;
    const connected = `Redis: connected to ${redis.url}`;
    // The catch-up cut short is a failure of its own, counted and logged once (never silent); it
    // is not a second "connected" or "lost".
    const said = lines(/^Redis: .*$/gm).map((line) => line.replace(/ \(.*\);/, " (…);"));
    expect(said.filter((line) => !line.startsWith("Redis: connect failed"))).toEqual([
      connected,
      lost,
      connected,
      lost,
      connected,
    ]);
    expect(said.filter((line) => line.startsWith("Redis: connect failed")).length).toBeLessThanOrEqual(1);
  } finally {
    await server.stop();
    await redis.stop();
    await restarted?.stop();
  }
}, 30_000);
