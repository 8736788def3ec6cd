/**
 * The standalone executables from `bun build --compile`: built into an empty folder and run from
 * another one, so nothing of the source tree is beside them or under their working directory.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { linkSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pkg from "../package.json";
import { BUN, ROOT, RUN, type RunningServer, run, startServer, Terminal, unusedPort } from "./helpers";

describe("compiled executables", () => {
  const binDir = mkdtempSync(join(tmpdir(), "chat-bin-"));
  const workDir = mkdtempSync(join(tmpdir(), "chat-cwd-"));
  const chatServer = join(binDir, "chat-server");
  const chatClient = join(binDir, "chat-client");
  let server: RunningServer;

  beforeAll(async () => {
    for (const [source, output] of [
      ["server.ts", chatServer],
      ["client.ts", chatClient],
    ] as const) {
      const build = await run([BUN, "build", "--compile", join(ROOT, source), "--outfile", output], {
        timeoutMs: 60_000,
      });
      if (build.exitCode !== 0) throw new Error(`bun build --compile ${source} failed:\n${build.stderr}`);
    }
    expect(readdirSync(binDir).sort()).toEqual(["chat-client", "chat-server"]);
    server = await startServer([], { command: [chatServer], cwd: workDir });
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
    rmSync(binDir, { recursive: true, force: true });
    rmSync(workDir, { recursive: true, force: true });
  });

  test("the server names itself and points to the compiled client beside it, by the path that works from here", () => {
    expect(server.log()).toBe(
      `Listening on ${server.url}\nConnect a client with: ${chatClient} ${server.url}\nOr open ${server.url.replace("ws://", "http://")}/ in a browser\nAccounts are kept in memory: they last until the server stops (keep them with --store or --redis).\n`,
    );
  });

  test("the client in pipe mode talks to the server", async () => {
    const result = await run([chatClient, server.url], { input: "from a binary\n", cwd: workDir });
    expect(result.stderr).toBe("");
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/^From server: 127\.0\.0\.1:\d+: from a binary\n$/);
  });

  test("--help and --version, with the executables' own names", async () => {
    const help = await run([chatServer, "--help"], { cwd: workDir });
    expect(help.stdout).toStartWith("Usage: chat-server [options]\n");
    expect(await run([chatClient, "--version"], { cwd: workDir })).toEqual({
      exitCode: 0,
      stdout: `${pkg.version}\n`,
      stderr: "",
    });
    expect(await run([chatClient, "--bogus"], { cwd: workDir })).toEqual({
      exitCode: 2,
      stdout: "",
      stderr: "chat-client: Unknown option '--bogus'. Run 'chat-client --help' for usage.\n",
    });
  });

  test("the compiled server keeps history in SQLite across a restart", async () => {
    const store = join(workDir, "history.sqlite");
    const first = await startServer(["--store", store], { command: [chatServer], cwd: workDir });
    expect((await run([chatClient, first.url], { input: "kept\n", cwd: workDir })).exitCode).toBe(0);
    first.process.kill("SIGTERM");
    expect(await first.process.exited).toBe(0);
    const second = await startServer(["--store", store], { command: [chatServer], cwd: workDir });
    try {
      const result = await run([chatClient, "--json", second.url], { input: "", cwd: workDir });
      const replayed = result.stdout
        .trimEnd()
        .split("\n")
        .map((line) => JSON.parse(line))
        .filter((e) => e.history === true);
      expect(replayed.map((e) => [e.seq, e.text])).toEqual([[1, "kept"]]);
    } finally {
      await second.stop();
    }
  });

  test("the compiled server's accounts command: create, list, reset-password, delete", async () => {
    const store = join(workDir, "accounts.sqlite");
    const accounts = (args: string[], input = "") =>
      run([chatServer, "accounts", ...args, "--store", store], { input, cwd: workDir });
    expect((await accounts(["create", "ada"], "lovelace-1815\n")).stdout).toBe("Created the account ada.\n");
    expect((await accounts(["list"])).stdout).toMatch(/^ada \(registered .*, 0 sessions\)\n$/);
    expect((await accounts(["reset-password", "ada"], "babbage-1791\n")).stdout).toBe(
      "Reset the password of ada; 0 sessions ended.\n",
    );
    expect((await accounts(["delete", "ada"])).stdout).toBe("Deleted the account ada; 0 sessions ended.\n");
    expect((await accounts(["list"])).stdout).toBe("No accounts yet.\n");
  });

  test("errors read the same: connection refused", async () => {
    const port = unusedPort();
    const result = await run([chatClient, `127.0.0.1:${port}`], { cwd: workDir });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toBe(
      `Could not connect to ws://127.0.0.1:${port}: connection refused. Is the server running? Start one with: ${chatServer} --port ${port}\n`,
    );
  });

  test("the interactive client works in a terminal", async () => {
    const terminal = new Terminal();
    try {
      await terminal.start([chatClient, server.url], { cwd: workDir, columns: 100, rows: 20 });
      await terminal.waitForScreen("the name prompt", (screen) => screen.includes("◆  Your name"));
      await terminal.type("binary");
      await terminal.press("Enter");
      await terminal.waitForScreen("the input line", (screen) => screen.includes("◆  binary in chat"));
      await terminal.type("typed into the binary");
      await terminal.press("Enter");
      await terminal.waitForScreen("the echo", (screen) =>
        /┃ {2}\d\d:\d\d {2}binary \(127\.0\.0\.1:\d+\): typed into the binary/.test(screen),
      );
      await terminal.press("C-c");
      expect(await terminal.waitForExit()).toBe(0);
    } finally {
      terminal.stop();
    }
  });

  test("run as ./dist/chat-server, the banner and the 404 page name ./dist/chat-client", async () => {
    const project = join(workDir, "project");
    mkdirSync(join(project, "dist"), { recursive: true });
    // Hard links: the executables as `npm run build` leaves them in a project's dist/, without copying 100 MB.
    linkSync(chatServer, join(project, "dist", "chat-server"));
    linkSync(chatClient, join(project, "dist", "chat-client"));
    const inDist = await startServer([], { command: ["./dist/chat-server"], cwd: project });
    try {
      expect(inDist.log()).toContain(`\nConnect a client with: ./dist/chat-client ${inDist.url}\n`);
      const page = await fetch(`http://127.0.0.1:${inDist.port}/elsewhere`);
      expect(await page.text()).toEndWith(`for example:\n  ./dist/chat-client ${inDist.url}\n`);
      const hinted = await run(["./dist/chat-client", inDist.url], { input: "as hinted\n", cwd: project });
      expect(hinted.stdout).toMatch(/^From server: 127\.0\.0\.1:\d+: as hinted\n$/);
    } finally {
      await inDist.stop();
    }
  });

  test("a server executable with no client beside it says how to run the client with Bun", async () => {
    const alone = join(workDir, "alone");
    mkdirSync(alone, { recursive: true });
    linkSync(chatServer, join(alone, "chat-server"));
    const lone = await startServer([], { command: [join(alone, "chat-server")], cwd: alone });
    try {
      expect(lone.log()).toContain(`\nConnect a client with: ${RUN.client} ${lone.url}\n`);
    } finally {
      await lone.stop();
    }
  });
});
