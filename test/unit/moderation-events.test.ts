/** Moderation's events (common/moderation-events.ts) through the one decoder, and as plain text. */
import { expect, test } from "bun:test";
import { type ChatEvent, decodeEvent, validEvent } from "../../common/events";
import { toText } from "../../common/plain-text";

const EVENTS: ChatEvent[] = [
  { type: "joined", room: "dev", members: [], count: 1, history: 0, seq: 0, topic: "release planning", role: "owner" },
  { type: "role", room: "dev", role: "moderator" },
  { type: "role", room: "dev", role: null },
  { type: "topic", room: "dev", time: "2026-01-01T00:00:00.000Z", text: "release planning", by: "alice" },
  { type: "deleted", room: "dev", seq: 12 },
  { type: "notice", room: "dev", time: "t", event: "moderation", text: "gus was muted in dev by alice for 10m" },
  {
    type: "bans",
    room: "dev",
    bans: [
      {
        target: "203.0.113.7",
        name: "gus",
        scope: "room",
        by: "alice",
        reason: "spam",
        until: "2026-01-01T02:00:00.000Z",
      },
      { target: "bob", scope: "chat", by: "root" },
    ],
    count: 2,
  },
  {
    type: "modlog",
    room: "dev",
    entries: [{ time: "2026-01-01T00:00:00.000Z", by: "alice", text: "alice claimed dev" }],
  },
];

test("every moderation event decodes to itself", () => {
  for (const event of EVENTS) expect(decodeEvent(JSON.stringify(event))).toEqual(event);
});

test("a malformed one is not ours: a role that is none, a seq that is not a count, a ban without scope", () => {
  expect(validEvent({ type: "role", room: "dev", role: "king" })).toBeUndefined();
  expect(validEvent({ type: "deleted", room: "dev", seq: -1 })).toBeUndefined();
  expect(validEvent({ type: "bans", room: "dev", bans: [{ target: "x", by: "y" }], count: 1 })).toBeUndefined();
  // A joined with a role it does not know keeps the rest.
  expect(validEvent({ type: "joined", room: "dev", members: [], count: 1, history: 0, seq: 0, role: "king" })).toEqual({
    type: "joined",
    room: "dev",
    members: [],
    count: 1,
    history: 0,
    seq: 0,
  });
});

test("plain text says each in a line (or a list)", () => {
  expect(EVENTS.map(toText)).toEqual([
    "*** You are in dev with 0 others. You are the owner of dev. Topic: release planning",
    "*** You are a moderator of dev.",
    "*** You have no role in dev now.",
    "*** alice set the topic of dev: release planning",
    "*** Message #12 in dev was removed by a moderator.",
    "*** gus was muted in dev by alice for 10m",
    "*** Bans in force in dev:\n  203.0.113.7 (gus): this room, by alice until 2026-01-01 02:00 UTC: spam\n  bob: the whole chat, by root",
    "*** Moderation in dev:\n  2026-01-01 00:00 UTC  alice claimed dev",
  ]);
});
