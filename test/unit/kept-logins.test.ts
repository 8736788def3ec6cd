/** The terminal client's kept logins (client/terminal/kept-logins.ts): one file, readable by the user alone. */
import { afterEach, beforeEach, expect, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KeptLogins, keptLoginsFile, serverKey } from "../../client/terminal/kept-logins";

let home: string;
beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), "kept-logins-"));
});
afterEach(() => rmSync(home, { recursive: true, force: true }));

const mode = (path: string) => statSync(path).mode & 0o777;

test("the file is in $XDG_CONFIG_HOME when it is an absolute path, otherwise in ~/.config", () => {
  expect(keptLoginsFile({ XDG_CONFIG_HOME: "/x/config", HOME: "/home/tess" })).toBe(
    "/x/config/bun-broadcast-chat/sessions.json",
  );
  expect(keptLoginsFile({ HOME: "/home/tess" })).toBe("/home/tess/.config/bun-broadcast-chat/sessions.json");
  expect(keptLoginsFile({ XDG_CONFIG_HOME: "relative", HOME: "/home/tess" })).toBe(
    "/home/tess/.config/bun-broadcast-chat/sessions.json",
  );
});

test("a login is kept per server, in a file of mode 0600 in a folder of mode 0700, and forgotten", () => {
  const file = keptLoginsFile({ XDG_CONFIG_HOME: home });
  const logins = new KeptLogins(file);
  expect(logins.get("ws://127.0.0.1:2000")).toBeUndefined();

  expect(logins.keep("ws://127.0.0.1:2000", { name: "tess", token: "t1" })).toBeUndefined();
  expect(logins.keep("wss://chat.example:443/", { name: "ana", token: "t2" })).toBeUndefined();
  expect(mode(file)).toBe(0o600);
  expect(mode(join(home, "bun-broadcast-chat"))).toBe(0o700);

  // Read back by another reader, as the next start does; the same server however its URL is written.
  const again = new KeptLogins(file);
  expect(again.get("ws://127.0.0.1:2000/?name=x")).toEqual({ name: "tess", token: "t1" });
  expect(again.get("wss://chat.example")).toEqual({ name: "ana", token: "t2" });
  expect(again.get("ws://127.0.0.1:2001")).toBeUndefined();

  expect(again.forget("ws://127.0.0.1:2000")).toBeUndefined();
  expect(new KeptLogins(file).get("ws://127.0.0.1:2000")).toBeUndefined();
  expect(new KeptLogins(file).get("wss://chat.example")).toEqual({ name: "ana", token: "t2" });
  expect(mode(file)).toBe(0o600);
});

test("a folder made before with a looser mode is tightened; a file of other things' making counts as empty", () => {
  const folder = join(home, "bun-broadcast-chat");
  mkdirSync(folder, { mode: 0o755 });
  chmodSync(folder, 0o755);
  const file = join(folder, "sessions.json");
  writeFileSync(file, "not json at all");
  const logins = new KeptLogins(file);
  expect(logins.get("ws://127.0.0.1:2000")).toBeUndefined();
  logins.keep("ws://127.0.0.1:2000", { name: "tess", token: "t1" });
  expect(mode(folder)).toBe(0o700);
  expect(JSON.parse(readFileSync(file, "utf8"))).toEqual({ "ws://127.0.0.1:2000": { name: "tess", token: "t1" } });

  writeFileSync(file, JSON.stringify({ "ws://127.0.0.1:2000": { name: 1 }, "ws://h:1": { name: "a", token: "b" } }));
  expect(new KeptLogins(file).get("ws://127.0.0.1:2000")).toBeUndefined();
  expect(new KeptLogins(file).get("ws://h:1")).toEqual({ name: "a", token: "b" });
});

test("a file that cannot be written is said in words, not thrown", () => {
  const blocked = join(home, "blocked");
  writeFileSync(blocked, ""); // a file where the folder should be
  const logins = new KeptLogins(join(blocked, "bun-broadcast-chat", "sessions.json"));
  expect(logins.keep("ws://127.0.0.1:2000", { name: "tess", token: "t1" })).toMatch(/^Could not write .*: ENOTDIR\.$/);
});

test("servers are told apart by scheme, host, port and path, not by the query", () => {
  expect(serverKey("ws://127.0.0.1:2000/?name=tess&resume=x")).toBe("ws://127.0.0.1:2000");
  expect(serverKey("wss://chat.example:443/chat/")).toBe("wss://chat.example/chat");
  expect(serverKey("ws://[::1]:2000")).toBe("ws://[::1]:2000");
});
