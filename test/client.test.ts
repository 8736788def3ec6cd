/** The client in pipe mode (stdin not a terminal): real client processes against a real server. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import pkg from "../package.json";
import { BUN, ROOT, RUN, type RunningServer, run, startServer, TestSocket, unusedPort, waitFor } from "./helpers";

const CLIENT = [BUN, join(ROOT, "client.ts")];

describe("pipe mode", () => {
  let server: RunningServer;
  beforeAll(async () => {
    // History off: each test sees only what happens while its client is connected. No rate
    // limit: some tests pipe in many lines at once.
    server = await startServer(["--history", "0", "--rate", "0", "--ip-rate", "0"]);
  });
  afterAll(() => server.stop());

  test("each stdin line is one message; each message received is printed as 'From server: <message>'", async () => {
    const result = await run([...CLIENT, server.url], { input: "hi\nsecond line\n" });
    expect(result.stderr).toBe("");
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/^From server: (127\.0\.0\.1:\d+): hi\nFrom server: \1: second line\n$/);
    // It left with a normal close frame (RFC 6455 §7.4.1: 1000).
    const tag = /: (127\.0\.0\.1:\d+): hi/.exec(result.stdout)![1]!;
    await server.waitForLog(new RegExp(`Connection from ${tag.replaceAll(".", "\\.")} closed \\(1000 bye\\)`));
  });

  test("blank lines are not sent; Windows line endings are understood", async () => {
    const result = await run([...CLIENT, server.url], { input: "\n  \none\r\n\r\ntwo" });
    expect(result.exitCode).toBe(0);
    expect(result.stdout.split("\n").map((line) => line.replace(/127\.0\.0\.1:\d+/, "ADDR"))).toEqual([
      "From server: ADDR: one",
      "From server: ADDR: two",
      "",
    ]);
  });

  test("messages from others are printed as they arrive", async () => {
    const connections = () => server.log().match(/New connection from/g)?.length ?? 0;
    const before = connections();
    const client = Bun.spawn([...CLIENT, server.url], { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
    try {
      let stdout = "";
      const reading = (async () => {
        for await (const chunk of client.stdout) stdout += new TextDecoder().decode(chunk);
      })();
      // Talk only once the server has logged the client's connection: it would miss earlier messages.
      await waitFor("the client to connect", () => (connections() > before ? true : undefined));
      const other = await TestSocket.open(server.url);
      other.send("hello from elsewhere");
      await waitFor("the other's message in the client's output", () =>
        stdout.includes(": hello from elsewhere\n") ? true : undefined,
      );
      client.stdin.write("and back\n");
      client.stdin.end();
      expect(await client.exited).toBe(0);
      await reading;
      expect(stdout).toMatch(
        /^From server: \*\*\* (127\.0\.0\.1:\d+) joined chat\nFrom server: \1: hello from elsewhere\nFrom server: 127\.0\.0\.1:\d+: and back\n$/,
      );
      expect(other.chat.at(-1)).toMatch(/: and back$/);
      other.close();
    } finally {
      client.kill("SIGKILL");
    }
  });

  test.each([
    ["a URL", (port: number) => [`ws://127.0.0.1:${port}`]],
    ["host:port without a scheme", (port: number) => [`127.0.0.1:${port}`]],
    ["--host and --port", (port: number) => ["--host", "127.0.0.1", "--port", String(port)]],
    ["--port alone", (port: number) => ["-p", String(port)]],
  ])("the server can be given as %s", async (_, args) => {
    const result = await run([...CLIENT, ...args(server.port)], { input: "hello\n" });
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/^From server: 127\.0\.0\.1:\d+: hello\n$/);
  });

  test("--name and --room apply in pipe mode; commands typed as lines work; /quit ends the input", async () => {
    const result = await run([...CLIENT, "--name", "piper", "--room", "pipes", server.url], {
      input: "hi\n/who\n/me nods\n/quit\nnever sent\n",
    });
    expect(result.stderr).toBe("");
    expect(result.exitCode).toBe(0);
    expect(result.stdout.replace(/127\.0\.0\.1:\d+/g, "ADDR")).toBe(
      [
        "From server: piper (ADDR): hi",
        "From server: *** In pipes (1): piper (ADDR)",
        "From server: * piper (ADDR) nods",
        "",
      ].join("\n"),
    );
  });

  test("every line printed starts with 'From server:', a multi-line answer's and message's too", async () => {
    const talker = await TestSocket.open(`${server.url}/?room=lines`);
    const reader = Bun.spawn([...CLIENT, "--room", "lines", server.url], {
      stdin: "pipe",
      stdout: "pipe",
      stderr: "pipe",
    });
    try {
      let out = "";
      const collecting = (async () => {
        for await (const chunk of reader.stdout) out += new TextDecoder().decode(chunk);
      })();
      await waitFor("the reader in the room", () =>
        server.log().match(/joined lines/g)?.length === 2 ? true : undefined,
      );
      talker.send("first\nsecond\u2028third");
      reader.stdin.write("/help\n");
      await waitFor("the answers", () => (out.includes("third") && out.includes("/quit") ? true : undefined));
      const lines = out.trimEnd().split("\n");
      expect(lines.filter((line) => !line.startsWith("From server: "))).toEqual([]);
      expect(lines.slice(0, 3).map((l) => l.replace(/127\.0\.0\.1:\d+/, "ADDR"))).toEqual([
        "From server: ADDR: first",
        "From server:   second",
        "From server:   third",
      ]);
      expect(lines).toContain("From server: *** Commands:");
      reader.stdin.end();
      await reader.exited;
      await collecting;
    } finally {
      reader.kill("SIGKILL");
      talker.close();
    }
  });

  test("--json prints every event as one JSON object per line", async () => {
    const result = await run([...CLIENT, "--json", "--name", "jason", server.url], {
      input: "hello\n/nick jay\n/who\n",
    });
    expect(result.stderr).toBe("");
    expect(result.exitCode).toBe(0);
    const events = result.stdout
      .trimEnd()
      .split("\n")
      .map((line) => JSON.parse(line));
    const address = events[0].you.address;
    expect(events.map((e) => e.type)).toEqual(["welcome", "joined", "message", "notice", "members"]);
    expect(events[0]).toEqual({
      type: "welcome",
      you: { name: "jason", address },
      version: pkg.version,
      limits: { rate: 0, burst: 20, maxMessage: 65536, announceLimit: 100 },
      resume: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/),
    });
    expect(events[2]).toMatchObject({ type: "message", room: "chat", from: { name: "jason", address }, text: "hello" });
    expect(events[3]).toMatchObject({
      type: "notice",
      event: "rename",
      previousName: "jason",
      user: { name: "jay", address },
    });
    expect(events[4]).toEqual({ type: "members", room: "chat", members: [{ name: "jay", address }] });
  });

  test("a reader that goes away (| head -1) ends the client quietly", async () => {
    const lines = Array.from({ length: 200 }, (_, n) => `line ${n}`).join("\n");
    for (const mode of ["", "--json"]) {
      const pipeline = `printf '%s\\n' ${JSON.stringify(lines)} | ${JSON.stringify(BUN)} ${JSON.stringify(CLIENT[1])} ${mode} ${server.url} | head -1; exit "\${PIPESTATUS[1]}"`;
      const result = await run(["bash", "-c", pipeline]);
      expect({ mode, exitCode: result.exitCode, stderr: result.stderr }).toEqual({ mode, exitCode: 0, stderr: "" });
      expect(result.stdout.split("\n")).toHaveLength(2);
    }
  });

  test("with --no-reconnect, when the server goes away the client says so and exits non-zero", async () => {
    const doomed = await startServer();
    const client = Bun.spawn([...CLIENT, "--no-reconnect", doomed.url], {
      stdin: "pipe",
      stdout: "pipe",
      stderr: "pipe",
    });
    try {
      await doomed.waitForLog(/New connection from/); // a server of its own: the only connection.
      await doomed.stop();
      expect(await client.exited).toBe(1);
      expect(await new Response(client.stderr).text()).toBe(
        `Lost the connection to ${doomed.url} (code 1006, connection lost without a close frame).\n`,
      );
    } finally {
      client.kill("SIGKILL");
    }
  });
});

describe("errors", () => {
  test("nothing listening: one line naming the URL and the cause, exit code 1", async () => {
    const port = unusedPort();
    expect(await run([...CLIENT, "--port", String(port)], { input: "hi\n" })).toEqual({
      exitCode: 1,
      stdout: "",
      stderr: `Could not connect to ws://127.0.0.1:${port}: connection refused. Is the server running? Start one with: ${RUN.server} --port ${port}\n`,
    });
  });

  test("on ::1, the hint to start a server names --host too", async () => {
    const port = unusedPort();
    const result = await run([...CLIENT, "--host", "::1", "--port", String(port)], { input: "hi\n" });
    expect(result.stderr).toBe(
      `Could not connect to ws://[::1]:${port}: connection refused. Is the server running? Start one with: ${RUN.server} --host ::1 --port ${port}\n`,
    );
  });

  test("a server that is not a WebSocket server is named as such", async () => {
    using web = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("a web page") });
    const result = await run([...CLIENT, `127.0.0.1:${web.port}`], { input: "hi\n" });
    expect(result).toEqual({
      exitCode: 1,
      stdout: "",
      stderr: `Could not connect to ws://127.0.0.1:${web.port}: the server answered with HTTP status 200 instead of a WebSocket. Is it a chat server, and is the path right?\n`,
    });
  });

  test.each([
    [
      ["ftp://example.test"],
      "'ftp://example.test' is not a WebSocket URL; use ws:// or wss://, e.g. ws://127.0.0.1:2000.",
    ],
    [["ws://[oops"], "'ws://[oops' is not a valid URL; expected something like ws://127.0.0.1:2000."],
    [["127.0.0.1:2000", "--port", "2001"], "Give either a URL or --host/--port, not both."],
    [["--port", "http"], "The port must be a number from 0 to 65535, not 'http'."],
    [["a", "b"], "Unexpected argument 'b'."],
    [["--nick", "x"], "Unknown option '--nick'."],
    [
      ["--name", "two words"],
      "--name: A name can only have letters, digits, '_', '-' and '.'; 'two words' has other characters.",
    ],
    [["--room", ""], "--room: A room cannot be empty."],
  ])("bad arguments %p: one line and exit code 2", async (args, message) => {
    expect(await run([...CLIENT, ...args])).toEqual({
      exitCode: 2,
      stdout: "",
      stderr: `${RUN.client}: ${message} Run '${RUN.client} --help' for usage.\n`,
    });
  });

  test("--help and --version", async () => {
    const help = await run([...CLIENT, "--help"]);
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toStartWith(
      `Usage: ${RUN.client} [options] [URL]\n       ${RUN.client} [options] < messages.txt\n       ${RUN.client} --json [options] [URL]\n`,
    );
    expect(help.stdout).toContain(
      "  -n, --name NAME           your name in the chat (on a terminal you are asked otherwise)\n",
    );
    // The password never on the command line, where anyone on the machine can read it.
    expect(help.stdout).toContain(
      "      --password-file FILE  log in to a registered --name with the password on FILE's first line (or env CHAT_PASSWORD)\n" +
        "      --forget              forget the login kept for this server (the next login asks for the password)\n",
    );
    expect(await run([...CLIENT, "-v"])).toEqual({ exitCode: 0, stdout: `${pkg.version}\n`, stderr: "" });
  });
});

describe("a bare port names a server on this machine", () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer(["--history", "0"]);
  });
  afterAll(() => server.stop());

  // new URL("ws://43001") is the address 0.0.167.249: the client must not go looking there.
  test.each([
    ["a port alone (43001)", ""],
    ["a colon and a port (:43001)", ":"],
  ])("%s connects to ws://127.0.0.1:<port>", async (_, prefix) => {
    const result = await run([...CLIENT, `${prefix}${server.port}`], { input: "by port\n" });
    expect(result.stderr).toBe("");
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/^From server: 127\.0\.0\.1:\d+: by port\n$/);
  });

  test("a bare number too big for a port is refused as one", async () => {
    expect(await run([...CLIENT, "99999"])).toEqual({
      exitCode: 2,
      stdout: "",
      stderr: `${RUN.client}: The port must be a number from 0 to 65535, not '99999'. Run '${RUN.client} --help' for usage.\n`,
    });
  });
});

test("wss:// to a server without TLS: one line saying so and naming the ws:// URL, exit code 1", async () => {
  const server = await startServer();
  try {
    const wss = server.url.replace(/^ws:/, "wss:");
    expect(await run([...CLIENT, wss], { input: "hi\n" })).toEqual({
      exitCode: 1,
      stdout: "",
      stderr: `Could not connect to ${wss}: the server does not speak TLS. Use ${server.url} instead.\n`,
    });
  } finally {
    await server.stop();
  }
});

test("`npm run client --room dev`: npm keeps --room and passes dev on alone; the client says to put options after --", async () => {
  const result = await run(["npm", "run", "client", "--room", "dev"], { env: { npm_config_loglevel: "error" } });
  expect(result.exitCode).toBe(2);
  expect(result.stderr).toContain(
    `${RUN.client}: npm took '--room' as its own and passed 'dev' on as an argument. Put the options after '--': npm run client -- --room dev. Run '${RUN.client} --help' for usage.\n`,
  );
});

test("the README's --json example has the fields the welcome event really has", async () => {
  const readme = await Bun.file(join(ROOT, "README.md")).text();
  const example = /\$ printf 'hello\\n' \| bun client\.ts --json --name jq \| head -3\n(.*)\n/.exec(readme)?.[1];
  expect(example).toBeDefined();
  /** An event's shape: its keys, each with its value's type, nested objects alike. */
  const shape = (value: unknown): unknown =>
    value !== null && typeof value === "object" && !Array.isArray(value)
      ? Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, shape(inner)]))
      : typeof value;
  const server = await startServer();
  try {
    const result = await run([...CLIENT, "--json", "--name", "jq", server.url], { input: "" });
    const welcome = JSON.parse(result.stdout.split("\n")[0]!);
    expect(shape(JSON.parse(example!))).toEqual(shape(welcome));
  } finally {
    await server.stop();
  }
});
