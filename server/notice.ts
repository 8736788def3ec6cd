/**
 * What the chat core says itself: a join, leave or rename notice, and the time on every event.
 */
import type { NoticeEvent, User } from "../common/events";

export function notice(
  room: string,
  event: "join" | "leave" | "rename",
  user: User,
  text: string,
  previousName?: string | null,
): NoticeEvent {
  return { type: "notice", room, time: isoNow(), event, user, text, ...(event === "rename" && { previousName }) };
}

// Formatting a time costs more than the rest of handling a message, and under load many messages
// share a millisecond: each millisecond is formatted once.
let nowMs = 0;
let nowText = "";
export function isoNow(): string {
  const ms = Date.now();
  if (ms !== nowMs) [nowMs, nowText] = [ms, new Date(ms).toISOString()];
  return nowText;
}
