/** The client's bookkeeping for resuming (client/session/resume.ts): nothing shown twice, nothing sent lost. */
import { expect, test } from "bun:test";
import { Resume } from "../../client/session/resume";
import type { SaidEvent } from "../../common/events";

const said = (seq: number, text: string, extra: Partial<SaidEvent> = {}): SaidEvent => ({
  type: "message",
  room: "chat",
  seq,
  time: "t",
  from: { name: null, address: "a:1" },
  text,
  ...extra,
});

test("a message at or below the last seen is a duplicate", () => {
  const resume = new Resume();
  expect([
    resume.said(said(1, "one"), false),
    resume.said(said(2, "two"), false),
    resume.said(said(2, "two"), false),
    resume.said(said(1, "one"), false),
  ]).toEqual([true, true, false, false]);
  expect(resume.lastSeen("chat")).toBe(2);
});

test("a provisional message is shown once, moves no position, and its numbered copy is not shown again", () => {
  const resume = new Resume();
  resume.said(said(10, "before"), false);
  expect(resume.said(said(10, "mine", { provisional: true, id: "p1" }), false)).toBe(true);
  expect(resume.said(said(10, "mine", { provisional: true, id: "p1" }), false)).toBe(false);
  expect(resume.lastSeen("chat")).toBe(10);
  // What the others said meanwhile, numbered 11 and 12, is new to us.
  expect([resume.said(said(11, "theirs"), false), resume.said(said(12, "theirs too"), false)]).toEqual([true, true]);
  // Our provisional message, numbered 13 now: not shown again, but it counts as seen.
  expect(resume.said(said(13, "mine", { id: "p1" }), false)).toBe(false);
  expect(resume.lastSeen("chat")).toBe(13);
  expect(resume.said(said(14, "after"), false)).toBe(true);
});

test("after a reconnect, what was sent and never came back is sent again once the replay is done", () => {
  const resume = new Resume();
  resume.sent({ type: "say", text: "arrived", id: "a" });
  resume.sent({ type: "say", text: "lost", id: "l" });
  resume.said(said(1, "arrived", { id: "a" }), true);
  expect(resume.unconfirmed).toBe(1);
  resume.resuming = true;
  expect(resume.joined({ type: "joined", room: "chat", members: [], count: 1, history: 1, seq: 1 })).toEqual([]);
  expect(resume.said(said(1, "arrived", { history: true, id: "a" }), true)).toBe(false);
  expect(resume.replayed()).toEqual([{ type: "say", text: "lost", id: "l" }]);
  expect(resume.resuming).toBe(false);
});

test("our message is known by its id, whatever the server did to its text", () => {
  const resume = new Resume();
  resume.sent({ type: "say", text: "col1\tcol2", id: "t1" });
  resume.sent({ type: "me", text: "waves\u200b", id: "t2" });
  // The server made the tab a space and dropped the zero-width space.
  resume.said(said(1, "col1 col2", { id: "t1" }), true);
  resume.said(said(2, "waves", { type: "action", id: "t2" }), true);
  expect(resume.unconfirmed).toBe(0);
});

test("someone else's message with our text or our id confirms nothing; a refused one is not waited for", () => {
  const resume = new Resume();
  resume.sent({ type: "say", text: "hi", id: "h1" });
  resume.said(said(1, "hi"), false);
  resume.said(said(2, "hi", { id: "h1" }), false);
  expect(resume.unconfirmed).toBe(1);
  expect(resume.refused("h1")).toEqual({ type: "say", text: "hi", id: "h1" });
  expect(resume.unconfirmed).toBe(0);
});

test("a room whose numbering went back (a server without --store restarted) starts over", () => {
  const resume = new Resume();
  resume.said(said(40, "old"), false);
  resume.joined({ type: "joined", room: "chat", members: [], count: 1, history: 0, seq: 2 });
  expect(resume.said(said(3, "new"), false)).toBe(true);
});
