/**
 * The API's rooms: posting a message to one (it goes through the directory as anyone's does, so it
 * reaches every instance and is kept in history), reading its history, who is in it, and the
 * rooms with people. A message posted appears from the key's name, marked as a bot, tagged with the
 * caller's address like everyone's.
 */
import { randomBytes } from "node:crypto";
import type { SaidEvent } from "../../common/events";
import { cleanText, normalizeName } from "../../common/text";
import { eventBytes } from "../event-bytes";
import { roomProblem } from "../handlers";
import { isoNow } from "../notice";
import { apiError, jsonAnswer, tooFast } from "./answers";
import type { ApiParts, Call } from "./call";
import { botOf, readBody, restricted, spendMessage } from "./posting";

/** How long a post waits for its message to come back numbered (with Redis, from its batch). */
const NUMBERING_WAIT_MS = 10_000;
/** Rooms listed at most, as /rooms lists. */
const MAX_ROOMS_LISTED = 1000;
/** Replay budget an address needs for a page of history to be read: about one short message. */
const MIN_PAGE_BYTES = 256;

/** The room of the path, normalised, or the refusal of its name. */
function roomOf(parts: ApiParts, call: Call): { room: string } | { refused: Response } {
  const room = normalizeName(call.params.room!);
  const problem = roomProblem(parts.chat, room);
  return problem ? { refused: apiError(problem.code, problem.message) } : { room };
}

/** POST /api/rooms/{room}/messages {"text"}: 201 with the message's number and time. */
export async function postMessage(parts: ApiParts, call: Call): Promise<Response> {
  const { chat, listeners } = parts;
  const where = roomOf(parts, call);
  if ("refused" in where) return where.refused;
  const refused = restricted(parts, call, where.room);
  if (refused) return refused;
  const spent = spendMessage(parts, call);
  if (spent) return spent;
  const body = await readBody(call.request, chat.limits.maxMessage);
  if ("refused" in body) return body.refused;
  const text = cleanText(body.text);
  if (text.trim() === "") return apiError("empty-message", "A message needs some text besides control characters.");
  const id = body.id ?? `api-${randomBytes(9).toString("base64url")}`;
  const from = botOf(call);
  const said: Omit<SaidEvent, "seq"> = { type: "message", room: where.room, time: isoNow(), from, text, id };
  // Waited for before it is said: without Redis, it comes back before say() returns.
  const numbered = listeners.said(where.room, id, NUMBERING_WAIT_MS);
  chat.directory.say(said);
  const back = await numbered;
  if (!back) return jsonAnswer({ room: where.room, time: said.time, id }, 202);
  return jsonAnswer(
    { room: back.room, seq: back.seq, time: back.time, id, ...(back.provisional && { provisional: true }) },
    201,
  );
}

/** GET /api/rooms/{room}/messages?before=N&limit=M: the messages before N, oldest first. */
export function history(parts: ApiParts, call: Call): Response {
  const { chat } = parts;
  const room = normalizeName(call.params.room!);
  const problem = roomProblem(chat, room);
  if (problem?.code === "room-invalid") return apiError(problem.code, problem.message);
  const query = call.url.searchParams;
  const before = whole(query.get("before"), chat.directory.lastSeq(room) + 1);
  const limit = whole(query.get("limit"), Number.MAX_SAFE_INTEGER);
  if (before === undefined || before < 1 || limit === undefined || limit < 1)
    return apiError("bad-command", "before and limit are whole numbers from 1, e.g. ?before=120&limit=20.");
  // The store is not read for an address that may be replayed nothing now, as /older.
  const budget = call.budget.replayBytes.available();
  if (budget < MIN_PAGE_BYTES) {
    chat.metrics.replaysCut++;
    return tooFast("Too much history asked for from your address just now.", 1000);
  }
  const page = chat.directory.before(room, before, budget);
  const events = page.events.slice(-limit);
  // The newest are given first, as far as the replay budget goes (as chat.beyondReplayBudget).
  let cut = events.length;
  while (cut > 0 && call.budget.replayBytes.spend(eventBytes(events[cut - 1]!))) cut--;
  const messages = events.slice(cut).map(({ history: _, ...event }) => event);
  const start = page.start && cut === 0 && events.length === page.events.length;
  return jsonAnswer({ room, messages, start });
}

/** A whole number from the query, `otherwise` when absent; undefined when it is not one. */
function whole(text: string | null, otherwise: number): number | undefined {
  if (text === null) return otherwise;
  return /^\d{1,15}$/.test(text) ? Number(text) : undefined;
}

/** GET /api/rooms: the rooms with people in them on every instance, and how many; the default room first. */
export function roomList({ chat }: ApiParts): Response {
  return jsonAnswer({ rooms: chat.rooms.listed(chat.directory.roomsElsewhere(), MAX_ROOMS_LISTED) });
}

/** GET /api/rooms/{room}/people: who is in the room, on every instance. */
export function people({ chat }: ApiParts, call: Call): Response {
  const room = normalizeName(call.params.room!);
  const problem = roomProblem(chat, room);
  if (problem?.code === "room-invalid") return apiError(problem.code, problem.message);
  const here = Array.from(chat.rooms.members(room), (member) => member.user);
  return jsonAnswer({ room, people: [...here, ...chat.directory.elsewhere(room).users] });
}
