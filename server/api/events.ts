/**
 * GET /api/events?rooms=a,b: a Server-Sent Events stream of those rooms (streams.ts, stream.ts),
 * resumed from its Last-Event-ID.
 */
import { DEFAULT_ROOM } from "../../common/events";
import { nameProblem, normalizeName } from "../../common/text";
import { apiError, tooFast } from "./answers";
import type { ApiParts, Call } from "./call";
import { readCursorId } from "./stream";

/** Rooms one stream follows at most. */
const MAX_STREAM_ROOMS = 50;
/**
 * An event id's length at most (`dev:12,ops:40`, each room percent-encoded): every event carries
 * it, and a client gives it back in Last-Event-ID, beside a URL naming the same rooms; both must
 * fit in the server's 16 KB of request headers, or the stream could not be resumed.
 */
const MAX_ID_LENGTH = 4096;
/** The longest a room's number is written, in an id. */
const SEQ_DIGITS = 15;

/** GET /api/events?rooms=a,b (Last-Event-ID to resume): the stream, or why not. */
export function openEventStream({ streams }: ApiParts, call: Call): Response {
  const rooms = roomsAsked(call.url.searchParams.get("rooms"));
  if ("refused" in rooms) return rooms.refused;
  const lastId = call.request.headers.get("last-event-id");
  const from = lastId === null || lastId === "" ? undefined : readCursorId(lastId);
  if (from === undefined && lastId)
    return apiError("bad-command", "Last-Event-ID must be an id this stream gave, such as dev:12 or dev:12,ops:40.");
  const refused = streams.refusal(call.key.name, call.budget.prefix);
  if (refused) return refused;
  // Opening a stream costs what opening a connection does.
  if (!call.budget.connections.take())
    return tooFast("Too many new connections from your address.", call.budget.connections.waitMs());
  call.client.keepOpen();
  const who = { ...call.key, prefix: call.budget.prefix, address: call.client.address };
  return streams.open(who, rooms.rooms, from, call.budget.replayBytes).response;
}

/** The rooms of `?rooms=a,b`, normalised, each once; the default room without any. */
function roomsAsked(text: string | null): { rooms: string[] } | { refused: Response } {
  if (text === null || text.trim() === "") return { rooms: [DEFAULT_ROOM] };
  const rooms = [...new Set(text.split(",").map(normalizeName))];
  if (rooms.length > MAX_STREAM_ROOMS)
    return {
      refused: apiError("bad-command", `A stream follows at most ${MAX_STREAM_ROOMS} rooms, not ${rooms.length}.`),
    };
  for (const room of rooms) {
    const problem = nameProblem(room, "room");
    if (problem) return { refused: apiError("room-invalid", problem) };
  }
  const idLength = rooms.reduce((sum, room) => sum + encodeURIComponent(room).length + SEQ_DIGITS + 2, 0);
  if (idLength > MAX_ID_LENGTH) {
    const why = `These rooms' names are too long to follow in one stream: its event ids would take up to ${idLength} characters, and at most ${MAX_ID_LENGTH} can be given back to resume. Follow fewer rooms in each stream.`;
    return { refused: apiError("bad-command", why) };
  }
  return { rooms };
}
