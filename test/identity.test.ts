/**
 * A name belongs to its person: it survives a dropped connection (the resume token and the grace
 * period), nobody can snatch it meanwhile, and a name that is taken when a client connects is
 * never silently dropped: pipe and --json modes exit 3 with one line, the terminal asks again.
 * Real server and client processes, a proxy to cut the network, tmux for the terminal.
 */
import { expect, test } from "bun:test";
import { join } from "node:path";
import { BUN, CuttableLink, jsonClient, pipeClient, ROOT, run, startServer, Terminal, TestSocket } from "./helpers";

const CLIENT = [BUN, join(ROOT, "client.ts")];

test("a hijack during a drop fails: the name is held for its person, who comes back with it", async () => {
  const server = await startServer();
  const proxy = new CuttableLink(server.port);
  const { socket: watcher } = await jsonClient(server);
  const alice = pipeClient(["--name", "alice", `127.0.0.1:${proxy.port}`]);
  try {
    const joins = () =>
      watcher.events.filter((e) => e.type === "notice" && e.event === "join" && e.user.name === "alice");
    await watcher.waitForEvent("alice joining", () => joins().length === 1);
    proxy.cut();
    await watcher.waitForEvent(
      "alice's leave notice",
      (e) => e.type === "notice" && e.event === "leave" && e.user.name === "alice",
    );
    // The moment alice is gone, the watcher tries to become her.
    watcher.send(JSON.stringify({ type: "nick", name: "alice" }));
    const refusal = await watcher.waitForEvent("the refusal", (e) => e.type === "error");
    // Held for alice, and the refusal says so, and for how long.
    expect(refusal.code).toBe("name-held");
    expect(refusal.message).toMatch(
      /^The name 'alice' is held for someone who dropped and may come back, for (59|60) s more;/,
    );
    proxy.restore();
    await watcher.waitForEvent("alice coming back", () => joins().length === 2, 8_000);
    alice.write("back as myself");
    const said = await watcher.waitForEvent(
      "alice's message",
      (e) => e.type === "message" && e.text === "back as myself",
    );
    expect(said.from.name).toBe("alice");
    expect(alice.out.stderr).toContain("Reconnected");
    expect(alice.out.stderr).not.toContain("taken");
  } finally {
    alice.proc.kill("SIGKILL");
    proxy.stop();
    await server.stop();
  }
}, 20_000);

test("a name taken at connect: pipe and --json modes say so in one line and exit 3", async () => {
  const server = await startServer();
  try {
    const holder = await TestSocket.open(`${server.url}/?name=tess`);
    await server.waitForLog(/tess \(\S+\) joined chat/);
    for (const mode of [[], ["--json"]]) {
      const result = await run([...CLIENT, ...mode, "--name", "TESS", server.url], { input: "never sent\n" });
      expect({ mode, ...result }).toEqual({
        mode,
        exitCode: 3,
        stdout: "",
        stderr: "Could not join as 'TESS': The name 'TESS' is taken; choose another.\n",
      });
    }
    expect(server.log()).not.toContain("never sent");
    holder.close();
  } finally {
    await server.stop();
  }
});

test("a name taken at connect: the terminal client says why and asks again", async () => {
  const server = await startServer();
  const terminal = new Terminal();
  try {
    const holder = await TestSocket.open(`${server.url}/?name=tess`);
    await server.waitForLog(/tess \(\S+\) joined chat/);
    await terminal.start([...CLIENT, "--name", "tess", server.url], { columns: 100, rows: 30 });
    const screen = await terminal.waitForScreen(
      "the reason and the question",
      (s) => s.includes("The name 'tess' is taken; choose another.") && s.includes("◆  Your name"),
    );
    expect(screen.indexOf("taken")).toBeLessThan(screen.indexOf("◆  Your name"));
    await terminal.type("tessa");
    await terminal.press("Enter");
    await terminal.waitForScreen("the chat as tessa", (s) => s.includes("◆  tessa in chat"));
    await server.waitForLog(/tessa \(\S+\) joined chat/);
    await terminal.press("C-c");
    expect(await terminal.waitForExit()).toBe(0);
    holder.close();
  } finally {
    terminal.stop();
    await server.stop();
  }
});

test("a made-up resume token gets nobody's name", async () => {
  const server = await startServer();
  try {
    const { socket: alice } = await jsonClient(server, "?name=alice");
    const { socket: thief } = await jsonClient(server, `?name=alice&resume=${"A".repeat(22)}`);
    expect(await thief.waitForEvent("the refusal", (e) => e.type === "error")).toEqual({
      type: "error",
      message: "The name 'alice' is taken; choose another.",
      code: "name-taken",
    });
    alice.close();
    thief.close();
  } finally {
    await server.stop();
  }
});
