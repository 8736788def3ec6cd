/**
 * What a message costs in memory, by estimate: history's budget (--history-bytes) and the replay
 * budget (--ip-replay) both count in it. A file of its own so that the chat core can count without
 * loading history's store (bun:sqlite).
 */
import type { SaidEvent } from "../common/events";

/** Roughly what an event costs in memory: its strings (two bytes a character) and the object. */
export function eventBytes(event: SaidEvent): number {
  const strings = event.text.length + event.room.length + event.from.address.length;
  return 2 * (strings + (event.from.name?.length ?? 0) + (event.id?.length ?? 0)) + 200;
}
