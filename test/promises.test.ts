/**
 * Promises the README makes that a new user found broken, each checked as they found it: the real
 * server, the real client in pipe mode, and a real redis-server where Redis is involved.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BUN, jsonClient, ROOT, type RunningServer, run, startRedis, startServer, unusedPort } from "./helpers";

const CLIENT = [BUN, join(ROOT, "client.ts")];

describe("a message the server rewrites is still known as one's own", () => {
  let server: RunningServer;
  beforeAll(async () => void (server = await startServer()));
  afterAll(() => server.stop());

  test("a tab (made a space by the server) is delivered and the pipe exits 0, not 'not delivered'", async () => {
    const { socket: watcher } = await jsonClient(server);
    const result = await run([...CLIENT, server.url, "--name", "t"], { input: "col1\tcol2\nzero\u200bwidth\n" });
    expect(result.stderr).toBe("");
    expect(result.stdout).toContain(": col1 col2\n");
    expect(result.stdout).toContain(": zerowidth\n");
    expect(result.exitCode).toBe(0);
    // Sent once each: nothing was sent again as if lost.
    const seen = watcher.events.filter((e) => e.type === "message").map((e) => e.text);
    expect(seen).toEqual(["col1 col2", "zerowidth"]);
    watcher.close();
  });

  test("a message over --max-message is refused by its id: the pipe says so and exits 1", async () => {
    const small = await startServer(["--max-message", "50"]);
    try {
      const result = await run([...CLIENT, small.url, "--name", "long"], { input: `${"x".repeat(60)}\nshort\n` });
      expect(result.stdout).toContain(
        "From server: *** Error: That message is 60 bytes; the limit is 50. It was not sent.\n",
      );
      expect(result.stdout).toContain("long (");
      expect(result.stderr).toBe("1 message was refused by the server (its reasons are above), and not delivered.\n");
      expect(result.exitCode).toBe(1);
    } finally {
      await small.stop();
    }
  });
});

test("a name given in the URL and refused is named in the refusal", async () => {
  const server = await startServer();
  try {
    const { socket: alice } = await jsonClient(server, "?name=alice");
    const result = await run([...CLIENT, `${server.url}/?name=alice`], { input: "hi\n" });
    expect(result).toEqual({
      exitCode: 3,
      stdout: "",
      stderr: "Could not join as 'alice': The name 'alice' is taken; choose another.\n",
    });
    alice.close();
  } finally {
    await server.stop();
  }
});

describe("a clean exit frees the name at once", () => {
  let server: RunningServer;
  beforeAll(async () => void (server = await startServer()));
  afterAll(() => server.stop());

  test("the README's pipe example twice in a row: both exit 0 under the same name", async () => {
    for (let n = 0; n < 2; n++) {
      const result = await run([...CLIENT, server.url, "--name", "bot7"], { input: "/rooms\nhello\n" });
      expect({ n, exitCode: result.exitCode, stderr: result.stderr }).toEqual({ n, exitCode: 0, stderr: "" });
    }
  });

  test("after /quit the name is free again", async () => {
    const first = await run([...CLIENT, server.url, "--name", "quitter"], { input: "hi\n/quit\n" });
    expect(first.exitCode).toBe(0);
    const again = await run([...CLIENT, server.url, "--name", "quitter"], { input: "back\n" });
    expect({ exitCode: again.exitCode, stderr: again.stderr }).toEqual({ exitCode: 0, stderr: "" });
  });
});

describe("with Redis", () => {
  test("pipe mode waits for its own messages' echoes, not for a pong that overtakes them", async () => {
    const redis = await startRedis();
    const server = await startServer(["--redis", redis.url]);
    try {
      await server.waitForLog(/Redis: connected/);
      for (let n = 0; n < 8; n++) {
        const result = await run([...CLIENT, server.url, "--name", `r${n}`], { input: "x\n" });
        expect({ n, exitCode: result.exitCode, stderr: result.stderr }).toEqual({ n, exitCode: 0, stderr: "" });
        expect(result.stdout).toContain(`r${n} (`);
      }
      // A name left cleanly is free on the shared side too, at once.
      const again = await run([...CLIENT, server.url, "--name", "r0"], { input: "again\n" });
      expect(again.exitCode).toBe(0);
    } finally {
      await server.stop();
      await redis.stop();
    }
  }, 60_000);
});

describe("the compiled server", () => {
  test("lets nobody in before the chat is ready: a message said the moment it accepts comes back", async () => {
    const dir = mkdtempSync(join(tmpdir(), "chat-early-"));
    const binary = join(dir, "chat-server");
    try {
      const build = await run([BUN, "build", "--compile", join(ROOT, "server.ts"), "--outfile", binary], {
        timeoutMs: 60_000,
      });
      expect(build.exitCode).toBe(0);
      // Five starts; each time, connections are opened every millisecond from before the server
      // listens, and each says something the moment it is open.
      for (let start = 0; start < 5; start++) {
        const port = unusedPort();
        const server = Bun.spawn([binary, "--port", String(port)], { stdout: "ignore", stderr: "ignore" });
        try {
          expect({ start, outcomes: await earlyWords(port) }).toEqual({ start, outcomes: { echoed: true, lost: 0 } });
        } finally {
          server.kill();
          await server.exited;
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);
});

/** Connects to `port` as soon as it accepts; says "early" at once; reports whether it came back. */
async function earlyWords(port: number): Promise<{ echoed: boolean; lost: number }> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const socket = new WebSocket(`ws://127.0.0.1:${port}/`);
    const opened = await new Promise<boolean>((resolve) => {
      socket.onopen = () => resolve(true);
      socket.onerror = () => resolve(false);
    });
    if (!opened) {
      await Bun.sleep(1);
      continue;
    }
    const echoed = await new Promise<boolean>((resolve) => {
      socket.onmessage = (event) => String(event.data).endsWith(": early") && resolve(true);
      setTimeout(() => resolve(false), 2_000);
      socket.send("early");
    });
    socket.close();
    return { echoed, lost: echoed ? 0 : 1 };
  }
  throw new Error(`nothing accepted connections on port ${port} within 10 s`);
}
