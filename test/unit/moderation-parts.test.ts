/**
 * The parts of moderation on their own: addresses and networks as targets, the index that finds a
 * ban among 10,000 without a scan, durations, and what is kept in the --store file across a restart.
 */
import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { History } from "../../server/history";
import { parseDuration, timeLeft } from "../../server/moderation/durations";
import { closeReason } from "../../server/moderation/moderation";
import {
  addressOf,
  contains,
  guestNetwork,
  NetworkMap,
  parseAddress,
  parseNetwork,
  showNetwork,
} from "../../server/moderation/networks";
import { type Restriction, Restrictions, restrictionKey } from "../../server/moderation/restrictions";
import { LocalState } from "../../server/state/local";
import { chatWith } from "./fake-chat";

describe("addresses and networks", () => {
  test("what a moderator types is read as an address, a network, a mistake, or a name", () => {
    const shown = (text: string) => {
      const network = parseNetwork(text);
      return network && ("problem" in network ? network.problem : showNetwork(network));
    };
    expect(shown("203.0.113.7")).toBe("203.0.113.7");
    expect(shown("203.0.113.77/24")).toBe("203.0.113.0/24");
    expect(shown("2001:db8:0:0:1::9")).toBe("2001:db8::/64");
    expect(shown("2001:DB8:aa::/48")).toBe("2001:db8:aa::/48");
    expect(shown("::ffff:198.51.100.4")).toBe("198.51.100.4");
    expect(shown("10.0.0.0/4")).toBe("An IPv4 network is /8 to /32, not /4.");
    expect(shown("10.0.0.1/33")).toBe("An IPv4 network is /8 to /32, not /33.");
    expect(shown("300.1.2.3/8")).toBe("'300.1.2.3/8' is not an address.");
    expect(shown("bob")).toBeUndefined();
    expect(shown("1.2")).toBeUndefined();
  });

  test("a connection's address, with or without its port; a guest is their IPv4 address or IPv6 /64", () => {
    expect(showNetwork(addressOf("127.0.0.1:5555")!)).toBe("127.0.0.1");
    expect(showNetwork(guestNetwork(addressOf("[2001:db8::1]:5555")!))).toBe("2001:db8::/64");
    expect(showNetwork(guestNetwork(addressOf("2001:db8::1")!))).toBe("2001:db8::/64");
    expect(addressOf("unknown")).toBeUndefined();
    const net = parseNetwork("198.51.100.0/24") as Parameters<typeof contains>[0];
    expect(contains(net, parseAddress("198.51.100.255")!)).toBe(true);
    expect(contains(net, parseAddress("198.51.101.0")!)).toBe(false);
    expect(contains(net, parseAddress("::1")!)).toBe(false);
  });

  test("finding an address among 10,000 networks looks up once per prefix length, not once per network", () => {
    const map = new NetworkMap<number>();
    for (let i = 0; i < 10_000; i++) map.set(parseAddress(`10.${i >> 8}.${i & 255}.1`)!, i);
    map.set(parseNetwork("192.0.2.0/24") as Parameters<typeof map.set>[0], -1);
    const lookups: number[] = [];
    const find = (text: string) =>
      map.find(parseAddress(text)!, (v) => {
        lookups.push(v);
        return true;
      });
    expect(find("10.39.15.1")).toBe(39 * 256 + 15);
    expect(find("192.0.2.200")).toBe(-1);
    expect(find("203.0.113.1")).toBeUndefined();
    // Each found entry was looked at once: nothing was scanned.
    expect(lookups).toEqual([39 * 256 + 15, -1]);
  });
});

describe("durations", () => {
  test("10m, 2h, 7d are read; anything else is refused with what is expected; time left is said plainly", () => {
    expect(parseDuration("10m")).toBe(600_000);
    expect(parseDuration("2H")).toBe(7_200_000);
    expect(parseDuration("7d")).toBe(7 * 86_400_000);
    expect(parseDuration("0m")).toMatchObject({ problem: expect.stringContaining("e.g. 10m, 2h, 7d") });
    expect(parseDuration("9999w")).toMatchObject({ problem: expect.stringContaining("up to 5 years") });
    expect(timeLeft(40_000, 0)).toBe("40 s");
    expect(timeLeft(7_200_000 - 1, 0)).toBe("2 h");
    expect(timeLeft(7_500_000, 0)).toBe("2 h 5 min");
    expect(timeLeft(7 * 86_400_000, 0)).toBe("7 days");
  });

  test("a close reason is cut to 123 bytes at a character", () => {
    expect(closeReason("short")).toBe("short");
    const long = closeReason(`You were banned by root: ${"é".repeat(100)}`);
    expect(Buffer.byteLength(long)).toBeLessThanOrEqual(123);
    expect(long.endsWith("é…")).toBe(true);
  });
});

describe("kept in the --store file", () => {
  test("bans, roles and topics outlive a restart; a removed message leaves the store too", async () => {
    const dir = mkdtempSync(join(tmpdir(), "chat-moderation-"));
    const file = join(dir, "store.db");
    try {
      const history = new History(50, file);
      const first = chatWith({}, {}, undefined, { state: new LocalState(history.database) });
      const root = first.connect({ name: "root" });
      root.member.account = "root";
      await first.chat.moderation.roles.operators.put("root", { name: "root", by: "test", at: "" });
      const ban: Restriction = { scope: "*", kind: "address", target: "203.0.113.7", by: "root", at: "" };
      await first.chat.moderation.bans.table.put(restrictionKey(ban), ban);
      await first.chat.moderation.topics.put("dev", { text: "kept", by: "root", at: "" });
      history.add({ type: "message", room: "dev", time: "", from: { name: "a", address: "x" }, text: "one" });
      history.add({ type: "message", room: "dev", time: "", from: { name: "a", address: "x" }, text: "two" });
      history.remove("dev", 1);
      history.close();

      const reopened = new Database(file, { strict: true });
      const state = new LocalState(reopened);
      const bans = new Restrictions(state, "bans", Date.now);
      expect(bans.find("*", null, parseAddress("203.0.113.7"))?.by).toBe("root");
      expect(state.table("operators", (v) => v).has("root")).toBe(true);
      const texts = reopened.query<{ text: string }, []>("SELECT text FROM events").all();
      expect(texts.map((row) => row.text)).toEqual(["two"]);
      reopened.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
