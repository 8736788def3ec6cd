/**
 * The OpenAPI 3.1 description of the HTTP API, served at GET /api/openapi.json. test/api.test.ts
 * holds it to the server: every operation here is answered with the statuses listed, and every
 * route the server answers (api.ts's ROUTES) is here.
 */
import { ERROR_CODES } from "../../common/codes";
import pkg from "../../package.json";

const json = (schema: object) => ({ "application/json": { schema } });
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const refusal = (description: string) => ({ description, content: json(ref("Error")) });
const answer = (description: string, schema: object) => ({ description, content: json(schema) });

/** The refusals every route with a key may answer. */
const KEYED = {
  "401": { $ref: "#/components/responses/Unauthorized" },
  "403": { $ref: "#/components/responses/BadKey" },
  "429": { $ref: "#/components/responses/RateLimited" },
};

const room = {
  name: "room",
  in: "path",
  required: true,
  description: "A room's name: 1 to 32 letters, digits, '_', '-', '.' (as a URL's path segment).",
  schema: { type: "string" },
};

const SCHEMAS = {
  User: {
    type: "object",
    required: ["name", "address"],
    properties: {
      name: { type: ["string", "null"] },
      address: { type: "string", description: "ip:port as the server saw it" },
      bot: { const: true, description: "said through this API, with a key of that name" },
    },
  },
  Message: {
    type: "object",
    required: ["type", "room", "seq", "time", "from", "text"],
    properties: {
      type: { enum: ["message", "action"] },
      room: { type: "string" },
      seq: { type: "integer", description: "the message's number in its room" },
      time: { type: "string", format: "date-time" },
      from: ref("User"),
      text: { type: "string" },
      id: { type: "string", description: "the id its sender gave it" },
    },
  },
  Error: {
    type: "object",
    required: ["error"],
    properties: {
      error: {
        type: "object",
        required: ["code", "message"],
        properties: {
          code: { enum: Object.keys(ERROR_CODES), description: "the same codes as the WebSocket's errors" },
          message: { type: "string", description: "for people; may change" },
        },
      },
    },
  },
};

const postMessage = {
  summary: "Say something in a room, as the key's name, marked as a bot",
  parameters: [room],
  requestBody: {
    required: true,
    content: json({
      type: "object",
      required: ["text"],
      properties: {
        text: { type: "string", description: "at most the server's --max-message bytes" },
        id: { type: "string", pattern: "^[A-Za-z0-9_-]{1,64}$", description: "yours, given back with the message" },
      },
    }),
  },
  responses: {
    "201": answer("Said: its number and time (provisional while the instance is cut off from Redis)", {
      type: "object",
      required: ["room", "seq", "time", "id"],
      properties: {
        room: { type: "string" },
        seq: { type: "integer" },
        time: { type: "string", format: "date-time" },
        id: { type: "string" },
        provisional: { const: true },
      },
    }),
    "202": answer("Taken, but its number did not come back within 10 s", {
      type: "object",
      properties: { room: { type: "string" }, time: { type: "string" }, id: { type: "string" } },
    }),
    "400": refusal("Not JSON, no text, an empty message or a bad room name"),
    ...KEYED,
    "413": refusal("Longer than the server's --max-message (too-long)"),
    "503": refusal("A new room, and the server has as many as it allows (rooms-full)"),
  },
};

const postPrivate = {
  summary: "Write privately to one person, as the key's name, marked as a bot",
  description:
    "It reaches every connection of theirs, on every instance; to a registered person who is away, it is kept and given at their next login (kept). Each key may write to 10 different people a minute.",
  parameters: [
    { name: "name", in: "path", required: true, description: "the person's name", schema: { type: "string" } },
  ],
  requestBody: postMessage.requestBody,
  responses: {
    "201": answer("Sent (or kept for a registered person who is away)", {
      type: "object",
      required: ["to", "time", "id"],
      properties: {
        to: { type: "string" },
        time: { type: "string", format: "date-time" },
        id: { type: "string" },
        kept: { const: true },
      },
    }),
    "400": refusal("Not JSON, no text, an empty message, or not a name"),
    ...KEYED,
    "404": refusal("Nobody of that name is connected, and it is not a registered name (not-here)"),
    "413": refusal("Longer than the server's --max-message (too-long)"),
    "503": refusal("Kept for someone away, but the store or Redis could not keep it just now (unavailable)"),
  },
};

const history = {
  summary: "A room's history, oldest first: the messages before number `before`",
  description:
    "From the --store file when the server has one, memory otherwise; at most --history messages a page, and what the address's replay budget allows. Page back with before = the first message's seq.",
  parameters: [
    room,
    { name: "before", in: "query", schema: { type: "integer", minimum: 1 }, description: "default: after the last" },
    { name: "limit", in: "query", schema: { type: "integer", minimum: 1 }, description: "at most --history" },
  ],
  responses: {
    "200": answer("The messages, and whether none older is kept", {
      type: "object",
      required: ["room", "messages", "start"],
      properties: {
        room: { type: "string" },
        messages: { type: "array", items: ref("Message") },
        start: { type: "boolean" },
      },
    }),
    "400": refusal("A bad room name, before or limit"),
    ...KEYED,
  },
};

const events = {
  summary: "Follow rooms: their messages and notices, as Server-Sent Events",
  description:
    "Each event's data is the JSON event a WebSocket client of chat.v1.json gets. The first, `ready`, says where the stream starts in each room. A message's id is the stream's position, `room:seq` for each room, comma-separated (`dev:12,ops:40`; room names percent-encoded); send the last one back as Last-Event-ID to resume without a hole or a duplicate, as far as history reaches (`missed` in `ready` counts the rest). A comment every 15 s keeps it alive.",
  parameters: [
    { name: "rooms", in: "query", schema: { type: "string" }, description: "comma-separated; default chat" },
    { name: "Last-Event-ID", in: "header", schema: { type: "string" }, description: "the last id seen, to resume" },
  ],
  responses: {
    "200": { description: "The stream", content: { "text/event-stream": { schema: { type: "string" } } } },
    "400": refusal("A bad room name, too many rooms, or a Last-Event-ID this server did not give"),
    ...KEYED,
  },
};

export const OPENAPI = {
  openapi: "3.1.0",
  info: {
    title: "Chat HTTP API",
    version: pkg.version,
    description:
      "Post to rooms and to people, read rooms' history and who is there, and follow them, with an API key (`bun server.ts keys add NAME`, or --api-keys FILE).",
  },
  security: [{ key: [] }],
  paths: {
    "/api/openapi.json": {
      get: { summary: "This document", security: [], responses: { "200": answer("The document", { type: "object" }) } },
    },
    "/api/rooms": {
      get: {
        summary: "The rooms with people in them (on every instance), and how many; the default room first",
        responses: {
          "200": answer("The rooms", {
            type: "object",
            required: ["rooms"],
            properties: {
              rooms: {
                type: "array",
                items: {
                  type: "object",
                  required: ["name", "members"],
                  properties: { name: { type: "string" }, members: { type: "integer" } },
                },
              },
            },
          }),
          ...KEYED,
        },
      },
    },
    "/api/rooms/{room}/messages": { get: history, post: postMessage },
    "/api/rooms/{room}/people": {
      get: {
        summary: "Who is in a room, on every instance",
        parameters: [room],
        responses: {
          "200": answer("The people", {
            type: "object",
            required: ["room", "people"],
            properties: { room: { type: "string" }, people: { type: "array", items: ref("User") } },
          }),
          "400": refusal("A bad room name"),
          ...KEYED,
        },
      },
    },
    "/api/events": { get: events },
    "/api/people/{name}/messages": { post: postPrivate },
  },
  components: {
    securitySchemes: { key: { type: "http", scheme: "bearer", description: "An API key" } },
    schemas: SCHEMAS,
    responses: {
      Unauthorized: refusal("No key (unauthorized)"),
      BadKey: refusal(
        "A key the server does not know, or one revoked (bad-key); or not allowed: a post from an address banned there (banned) or muted (muted)",
      ),
      RateLimited: {
        ...refusal("Too fast (rate-limited): the key's or the address's budget, or too many tries without a right key"),
        headers: { "Retry-After": { schema: { type: "integer" }, description: "seconds to wait" } },
      },
    },
  },
};
