/**
 * POST /api/people/{name}/messages {"text"}: a private message from the key's name, marked as a
 * bot, to one person, through the one way in private messages have (server/private/: every
 * connection of theirs on every instance, or kept for a registered person who is away). It spends
 * what a room's post does, and the budget of different people written to a minute, which each key
 * has of its own, as each address has.
 */
import { sendPrivate } from "../private/private";
import { RECIPIENTS_PER_WINDOW, WINDOW_MS } from "../private/recipients";
import { apiError, jsonAnswer, tooFast } from "./answers";
import type { ApiParts, Call } from "./call";
import { botOf, readBody, restricted, spendMessage } from "./posting";

export async function postPrivate(parts: ApiParts, call: Call): Promise<Response> {
  const { chat } = parts;
  const refused = restricted(parts, call);
  if (refused) return refused;
  const spent = spendMessage(parts, call);
  if (spent) return spent;
  const body = await readBody(call.request, chat.limits.maxMessage);
  if ("refused" in body) return body.refused;
  const to = call.params.name!;
  // The key has its own budget of people written to, as an address has.
  const waitMs = await chat.privates.recipients.take(`key:${call.key.name}`, to);
  if (waitMs > 0) {
    chat.metrics.refusedRate++;
    return tooFast(
      `The key of ${call.key.name} has written privately to ${RECIPIENTS_PER_WINDOW} different people in the last ${WINDOW_MS / 1000} s; write to one of them, or wait.`,
      waitMs,
    );
  }
  const sent = await sendPrivate(chat, botOf(call), to, body.text, body.id);
  if ("code" in sent) return apiError(sent.code, sent.message);
  return jsonAnswer({ to: sent.to.name, time: sent.time, id: sent.id, ...(sent.kept && { kept: true }) }, 201);
}
