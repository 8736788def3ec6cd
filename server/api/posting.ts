/**
 * What a post (to a room, or to a person) shares: the budgets a message spends, its key's and its
 * address's, as a connection's message spends its own and its address's (intake.ts); the bans
 * and mutes of its address (moderation/), as a connection from there meets them; its body, read
 * within the server's limits; and who it is from, the key's name marked as a bot.
 */
import type { User } from "../../common/events";
import { addressOf } from "../moderation/networks";
import { apiError, tooFast } from "./answers";
import type { ApiParts, Call } from "./call";

/** What a body may hold besides the text, for the size check before it is read. */
const BODY_OVERHEAD = 1024;

/** Spends a message of the key's budget and of its address's; the 429 if either has none. */
export function spendMessage({ chat, keys }: ApiParts, call: Call): Response | undefined {
  const now = chat.clock.now();
  const keyBudget = keys.budget(call.key.name);
  if (!keyBudget.take(now)) {
    chat.metrics.refusedRate++;
    const { rate, burst } = chat.limits;
    return tooFast(
      `The key of ${call.key.name} may say ${rate} messages a second (${burst} at once).`,
      keyBudget.waitMs(),
    );
  }
  if (!call.budget.messages.take(now)) {
    chat.metrics.refusedRate++;
    return tooFast(
      `Your address is sending too fast: at most ${chat.limits.ipRate} messages a second.`,
      call.budget.messages.waitMs(),
    );
  }
  return undefined;
}

/**
 * Why the caller's address may not post in `room` (or privately, without one): banned from the
 * chat, or from the room, or muted there. A key is the operator's to give, not a way round them.
 */
export function restricted({ chat }: ApiParts, call: Call, room?: string): Response | undefined {
  const { moderation } = chat;
  const fromChat = moderation.admission(call.client.ip);
  if (fromChat) return apiError("banned", fromChat);
  if (room === undefined) return undefined;
  const address = addressOf(call.client.ip);
  const ban = moderation.bans.find(room, null, address);
  if (ban) return apiError("banned", `${moderation.banWords(ban, "Your address is")}.`);
  if (moderation.mutes.find(room, null, address))
    return apiError("muted", `Your address is muted in ${room}: it may read there but not speak.`);
  return undefined;
}

/** Who a post is from: the key's name, marked as a bot, at the caller's address. */
export const botOf = (call: Call): User => ({ name: call.key.name, address: call.client.address, bot: true });

/** The body of a post, `{"text": "…", "id"?: "…"}`, read within the server's limits. */
export async function readBody(
  request: Request,
  maxMessage: number,
): Promise<{ text: string; id?: string } | { refused: Response }> {
  const tooLong = (bytes: number) => ({
    refused: apiError("too-long", `That message is ${bytes} bytes; the limit is ${maxMessage}. It was not sent.`),
  });
  // A text's JSON takes up to 6 bytes for each of its bytes (\u0000): past that it cannot fit.
  const declared = Number(request.headers.get("content-length") ?? 0);
  if (declared > 6 * maxMessage + BODY_OVERHEAD)
    return {
      refused: apiError(
        "too-long",
        `That body is ${declared} bytes; a message is at most ${maxMessage}. It was not sent.`,
      ),
    };
  let body: unknown;
  try {
    body = JSON.parse(await request.text());
  } catch {
    return { refused: apiError("bad-command", 'The body must be JSON: {"text":"…"}.') };
  }
  const { text, id } = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
  if (typeof text !== "string") return { refused: apiError("bad-command", 'The body needs a "text": {"text":"…"}.') };
  if (id !== undefined && (typeof id !== "string" || !/^[A-Za-z0-9_-]{1,64}$/.test(id)))
    return { refused: apiError("bad-command", 'An "id" is 1 to 64 letters, digits, "_" or "-".') };
  const bytes = Buffer.byteLength(text);
  if (bytes > maxMessage) return tooLong(bytes);
  return { text, ...(id !== undefined && { id }) };
}
