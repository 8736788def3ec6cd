/**
 * Names, rooms and presence, over real sockets to the real server. Plain-text clients see the
 * server's own lines start with "*** "; JSON clients get events.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { BUN, jsonClient, ROOT, type RunningServer, settle, startServer, TestSocket } from "./helpers";

describe("names, rooms and presence", () => {
  let server: RunningServer;
  beforeAll(async () => {
    // Names are free the moment their holder leaves (a grace period has a test of its own).
    server = await startServer(["--history", "0", "--name-grace", "0"]);
  });
  afterAll(() => server.stop());

  test("/nick sets a name; messages then carry the name and the server-given address", async () => {
    const { socket: alice, address } = await jsonClient(server);
    const bob = await TestSocket.open(server.url);
    await settle(alice, bob);
    alice.send(JSON.stringify({ type: "nick", name: "alice" }));
    expect(await bob.waitForMessage("the rename notice", (m) => m.includes("is now"))).toBe(
      `*** ${address} is now alice`,
    );
    alice.send(JSON.stringify({ type: "say", text: "hello" }));
    expect(await bob.waitForMessage("alice's message", (m) => m.endsWith(": hello"))).toBe(`alice (${address}): hello`);
    alice.close();
    bob.close();
  });

  test("a refused name gets a clear error to that user alone", async () => {
    const alice = await TestSocket.open(`${server.url}/?name=Alice`);
    const bob = await TestSocket.open(server.url);
    const carol = await TestSocket.open(server.url);
    await settle(carol, alice, bob);
    const cases: [string, string][] = [
      ["/nick alice", "*** Error: The name 'alice' is taken; choose another."],
      ["/nick ALICE", "*** Error: The name 'ALICE' is taken; choose another."],
      ["/nick a b", "*** Error: A name can only have letters, digits, '_', '-' and '.'; 'a b' has other characters."],
      [
        "/nick <script>",
        "*** Error: A name can only have letters, digits, '_', '-' and '.'; '<script>' has other characters.",
      ],
      [`/nick ${"x".repeat(33)}`, `*** Error: A name can be at most 32 characters; '${"x".repeat(33)}' has 33.`],
      ["/nick", "*** Error: /nick needs a name, e.g. /nick alice."],
    ];
    for (const [command, error] of cases) {
      bob.send(command);
      expect(await bob.waitForMessage(`the error for ${command}`, (m) => m === error)).toBe(error);
    }
    await settle(carol, alice, bob);
    expect(carol.messages.filter((m) => m.startsWith("*** ") && !m.includes("joined"))).toEqual([]);
    for (const s of [alice, bob, carol]) s.close();
  });

  test("names may use letters of any script (one to a name); a name is free again once its holder leaves", async () => {
    const first = await TestSocket.open(server.url);
    first.send("/nick Ζωή_名前-1.0");
    await first.waitForMessage("the refusal", (m) =>
      m.startsWith("*** Error: A name cannot mix scripts (Greek and Han"),
    );
    first.send("/nick Ζωή_Ωμέγα-1.0");
    await first.waitForMessage("the rename", (m) => m.endsWith("is now Ζωή_Ωμέγα-1.0"));
    first.close();
    await first.waitForClose();
    await server.waitForLog(/Connection from Ζωή_Ωμέγα-1\.0 \(\S+\) closed/);
    const second = await TestSocket.open(`${server.url}/?name=${encodeURIComponent("ζωή_ωμέγα-1.0")}`);
    await settle(second);
    expect(second.messages.filter((m) => m.startsWith("*** Error"))).toEqual([]);
    second.close();
  });

  test("messages never cross rooms; /join and leaving are announced in both rooms", async () => {
    const inChat = await TestSocket.open(`${server.url}/?name=stay`);
    const mover = await TestSocket.open(`${server.url}/?name=mover`);
    const inDev = await TestSocket.open(`${server.url}/?name=dev1&room=dev`);
    await settle(inChat, mover);
    await settle(inDev);

    mover.send("/join dev");
    const youAreIn = await mover.waitForMessage("the join confirmation", (m) => m.startsWith("*** You are in"));
    expect(youAreIn).toBe("*** You are in dev with 1 other.");
    expect(await inChat.waitForMessage("the leave notice", (m) => m.includes("left"))).toMatch(
      /^\*\*\* mover \(127\.0\.0\.1:\d+\) left chat$/,
    );
    expect(await inDev.waitForMessage("the join notice", (m) => m.includes("mover") && m.includes("joined"))).toMatch(
      /^\*\*\* mover \(127\.0\.0\.1:\d+\) joined dev$/,
    );

    inDev.send("only for dev");
    inChat.send("only for chat");
    await mover.waitForMessage("the dev message", (m) => m.endsWith(": only for dev"));
    await settle(inChat);
    await settle(inDev, mover);
    expect(inChat.chat.filter((m) => m.includes("only for"))).toEqual([
      expect.stringMatching(/^stay \(.*\): only for chat$/),
    ]);
    expect(mover.chat.filter((m) => m.includes("only for"))).toEqual([
      expect.stringMatching(/^dev1 \(.*\): only for dev$/),
    ]);

    mover.send("/rooms");
    expect(await mover.waitForMessage("the room list", (m) => m.startsWith("*** Rooms"))).toMatch(
      /^\*\*\* Rooms: chat \(\d+\), dev \(2\)$/,
    );
    mover.send("/join dev");
    expect(await mover.waitForMessage("the error", (m) => m.startsWith("*** Error"))).toBe(
      "*** Error: You are already in dev.",
    );
    for (const s of [inChat, mover, inDev]) s.close();
  });

  test("a dropped connection is announced as leaving", async () => {
    const watcher = await TestSocket.open(`${server.url}/?room=drops`);
    await settle(watcher);
    const client = Bun.spawn([BUN, join(ROOT, "client.ts"), `${server.url}/?name=dropper&room=drops`], {
      stdin: "pipe",
      stdout: "pipe",
      stderr: "pipe",
    });
    try {
      await watcher.waitForMessage("the join", (m) => m.includes("dropper") && m.endsWith("joined drops"));
      client.kill("SIGKILL");
      expect(await watcher.waitForMessage("the leave", (m) => m.includes("dropper") && m.includes("left"))).toMatch(
        /^\*\*\* dropper \(127\.0\.0\.1:\d+\) left drops$/,
      );
    } finally {
      client.kill("SIGKILL");
      watcher.close();
    }
  });

  test("rooms bigger than --announce-limit hear no joins and leaves; /who still lists everyone", async () => {
    const small = await startServer(["--history", "0", "--announce-limit", "2"]);
    try {
      const { socket: alice } = await jsonClient(small, "?name=alice");
      const bob = await TestSocket.open(`${small.url}/?name=bob`);
      await alice.waitForEvent(
        "bob's join: two people, within the limit",
        (e) => e.type === "notice" && e.event === "join" && e.user.name === "bob",
      );
      const carol = await TestSocket.open(`${small.url}/?name=carol`);
      await settle(carol, alice, bob);
      carol.send("/nick caroline");
      await alice.waitForEvent(
        "the rename, told in any room",
        (e) => e.type === "notice" && e.event === "rename" && e.user.name === "caroline",
      );
      alice.send(JSON.stringify({ type: "who" }));
      const who = await alice.waitForEvent("the members", (e) => e.type === "members");
      expect(who.members.map((m: { name: string }) => m.name).sort()).toEqual(["alice", "bob", "caroline"]);
      carol.close();
      await carol.waitForClose();
      // Carol's leave brings the room back to two: that is told, as is everything within the limit.
      await alice.waitForEvent(
        "caroline's leave",
        (e) => e.type === "notice" && e.event === "leave" && e.user.name === "caroline",
      );
      await settle(bob, alice);
      const presence = alice.events.filter(
        (e) => e.type === "notice" && e.user?.name?.startsWith("carol") && e.event !== "rename",
      );
      expect(presence.map((e) => e.event)).toEqual(["leave"]);
      expect(alice.events.find((e) => e.type === "welcome")!.limits.announceLimit).toBe(2);
      alice.close();
      bob.close();
    } finally {
      await small.stop();
    }
  });

  test("in a room of more than 100, joined lists the first 100 (the joiner among them) and counts everyone", async () => {
    const big = await startServer(["--history", "0", "--max-per-ip", "200", "--ip-connect-rate", "0"]);
    const crowd: TestSocket[] = [];
    try {
      for (let n = 0; n < 120; n++) crowd.push(await TestSocket.open(`${big.url}/?name=p${n}`));
      const { socket: late } = await jsonClient(big, "?name=late");
      const joined = await late.waitForEvent("joined", (e) => e.type === "joined");
      expect(joined.count).toBe(121);
      expect(joined.members).toHaveLength(100);
      expect(joined.members.map((m: { name: string }) => m.name)).toEqual([
        ...Array.from({ length: 99 }, (_, n) => `p${n}`),
        "late",
      ]);
      late.send(JSON.stringify({ type: "who" }));
      expect((await late.waitForEvent("the members", (e) => e.type === "members")).members).toHaveLength(121);
      const text = await TestSocket.open(`${big.url}/?name=texter&room=chat`);
      text.send("/join chat2");
      text.send("/join chat");
      expect(
        await text.waitForMessage("the plain-text greeting", (m) => m.startsWith("*** You are in chat with")),
      ).toBe("*** You are in chat with 121 others.");
      late.close();
      text.close();
    } finally {
      for (const socket of crowd) socket.close();
      await big.stop();
    }
  });

  test("/who, /me, /help, // and unknown commands", async () => {
    const { socket: alice, address } = await jsonClient(server, "?name=whoalice&room=who");
    const bob = await TestSocket.open(`${server.url}/?room=who`);
    await settle(alice, bob);
    bob.send("/who");
    const who = await bob.waitForMessage("the member list", (m) => m.startsWith("*** In who"));
    expect(who).toMatch(
      new RegExp(`^\\*\\*\\* In who \\(2\\): whoalice \\(${address.replaceAll(".", "\\.")}\\), 127\\.0\\.0\\.1:\\d+$`),
    );

    alice.send(JSON.stringify({ type: "me", text: "waves" }));
    expect(await bob.waitForMessage("the action", (m) => m.startsWith("* "))).toBe(`* whoalice (${address}) waves`);

    bob.send("//slashes are fine");
    expect(await bob.waitForMessage("the message", (m) => m.endsWith("/slashes are fine"))).toMatch(
      /^127\.0\.0\.1:\d+: \/slashes are fine$/,
    );

    bob.send("/help");
    const help = await bob.waitForMessage("the help", (m) => m.startsWith("*** Commands:"));
    expect(help.split("\n")).toContain("/nick NAME   set your name (letters, digits, _ - .; up to 32)");
    bob.send("/frobnicate now");
    expect(await bob.waitForMessage("the error", (m) => m.startsWith("*** Error"))).toBe(
      "*** Error: There is no command /frobnicate; /help lists the commands (start with // to send a message beginning with /).",
    );
    await settle(bob, alice);
    // Alice heard the action, the // message and the markers, and nothing of bob's /who, /help or error.
    expect(alice.events.filter((e) => e.type === "members" || e.type === "help" || e.type === "error")).toEqual([]);
    alice.close();
    bob.close();
  });
});
