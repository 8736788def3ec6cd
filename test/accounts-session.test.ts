/**
 * The session library (client/session/, which the page and the terminal share) with accounts,
 * against a real server: it reports a registered name asked for, a login and its token, a token
 * refused; it offers a kept token on connecting (a `session.` subprotocol entry) and again on
 * every reconnection, so that it comes back logged in with its name; and it opens on a server
 * without guests, for its user to log in.
 */
import { expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ChatSession } from "../client/session/session";
import type { Status } from "../client/session/status";
import type { ChatEvent } from "../common/events";
import { BUN, CuttableLink, ROOT, run, startServer, waitFor } from "./helpers";

const PASSWORD = "correct-horse-42";

/** A session that records its events and statuses. */
async function open(url: string, options: { name?: string; session?: string } = {}) {
  const session = await ChatSession.open({ url, reconnect: true, ...options });
  const events: ChatEvent[] = [];
  const statuses: Status[] = [];
  session.listen(
    (event) => events.push(event),
    (status) => statuses.push(status),
  );
  const status = <T extends Status["type"]>(type: T) =>
    waitFor(`a ${type} status (have ${JSON.stringify(statuses)})`, () =>
      statuses.find((s): s is Extract<Status, { type: T }> => s.type === type),
    );
  return { session, events, statuses, status };
}

test("a registered name asked for is reported; a login gives a token the next session logs in with", async () => {
  const server = await startServer();
  try {
    const owner = await open(server.url, { name: "alice" });
    owner.session.sendTyped(`/register ${PASSWORD}`);
    const registered = await owner.status("account");
    expect(owner.session.sessionToken).toBe(registered.token!);
    const guest = await open(server.url, { name: "alice" });
    expect(await guest.status("name-registered")).toMatchObject({ name: "alice" });
    expect(guest.session.me?.name).toBeNull();
    guest.session.send({ type: "login", name: "alice", password: PASSWORD });
    const login = await guest.status("account");
    expect(login.name).toBe("alice");
    expect(guest.session.me).toMatchObject({ name: "alice", registered: true });
    expect(guest.session.account).toBe("alice");
    const token = guest.session.sessionToken!;
    await guest.session.close();
    const again = await open(server.url, { name: "alice", session: token });
    expect(again.statuses).toEqual([{ type: "account", name: "alice" }]);
    expect(again.session.me?.name).toBe("alice");
    // /logout ends this device's session: the token is forgotten, and refused if offered again.
    again.session.sendTyped("/logout");
    await waitFor("the logout", () => (again.session.account === null ? true : undefined));
    expect(again.session.sessionToken).toBeUndefined();
    const stale = await open(server.url, { session: token });
    expect(await stale.status("session-invalid")).toMatchObject({ message: expect.stringContaining("session token") });
    expect(stale.session.sessionToken).toBeUndefined();
    for (const s of [owner, stale]) await s.session.close();
  } finally {
    await server.stop();
  }
}, 20_000);

test("after a drop, the session comes back logged in, with its registered name", async () => {
  const server = await startServer();
  const link = new CuttableLink(server.port);
  try {
    const { session, status } = await open(`ws://127.0.0.1:${link.port}`, { name: "alice" });
    session.sendTyped(`/register ${PASSWORD}`);
    await status("account");
    link.cut();
    await status("lost");
    link.restore();
    await status("reconnected");
    await waitFor("the login again", () => (server.log().match(/logged in as alice \(session\)/) ? true : undefined));
    await waitFor("alice back", () =>
      server.log().match(/alice \(\S+\) joined chat[\s\S]*alice \(\S+\) joined chat/) ? true : undefined,
    );
    expect(session.me?.name).toBe("alice");
    await session.close();
  } finally {
    link.stop();
    await server.stop();
  }
}, 20_000);

test("on a server without guests, the session opens and says a login is wanted; the login lets it in", async () => {
  const dir = mkdtempSync(join(tmpdir(), "accounts-session-"));
  const store = join(dir, "chat.db");
  // Guests cannot register here: the account is made from the command line.
  const made = await run([BUN, join(ROOT, "server.ts"), "accounts", "create", "alice", "--store", store], {
    input: `${PASSWORD}\n`,
  });
  expect(made.stdout).toBe("Created the account alice.\n");
  const server = await startServer(["--guests", "no", "--store", store]);
  try {
    const { session, status, events } = await open(server.url, { name: "alice" });
    expect(await status("login-required")).toMatchObject({ message: expect.stringContaining("/login") });
    expect(session.room).toBeUndefined();
    session.send({ type: "login", name: "alice", password: PASSWORD });
    expect((await status("account")).name).toBe("alice");
    await waitFor("the room", () => (session.room === "chat" ? true : undefined));
    expect(events.some((e) => e.type === "joined")).toBe(true);
    await session.close();
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
