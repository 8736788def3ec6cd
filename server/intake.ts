/**
 * A frame from a member, taken in: the connection's and its address's rate first, then the size,
 * then read as a command (JSON for rich clients, a typed line for plain-text ones), and handed to
 * the command's handler (handlers.ts). Everything refused here is refused with its code; a message
 * refused unread keeps its id, so its sender knows which it was.
 */

import { refusal } from "../common/codes";
import { type Command, CommandError, decodeCommand, parseTyped } from "../common/commands";
import { describeUser } from "../common/text";
import type { ChatContext } from "./context";
import { perform } from "./handlers";
import type { Member } from "./member";

/** What JSON adds around a message's text, at most, for the size check before reading a frame. */
const FRAME_OVERHEAD = 200;
/** A client refused this many messages in a row for going too fast is flooding: it is closed. */
const FLOOD_REFUSALS = 20;

export function handleFrame(chat: ChatContext, member: Member, frame: string): void {
  if (!withinRate(chat, member, frame)) return;
  const { maxMessage } = chat.limits;
  // Far past the limit (in UTF-16 units, each at least a byte), a frame is refused unread; near it,
  // the message's own text is measured once it is read.
  if (frame.length > 2 * maxMessage + FRAME_OVERHEAD) {
    return tooLong(chat, member, Buffer.byteLength(frame), member.json ? idOf(frame) : undefined);
  }
  let command: Command;
  try {
    command = member.json ? decodeCommand(frame) : parseTyped(frame);
  } catch (error) {
    if (!(error instanceof CommandError)) throw error;
    return chat.refuse(member, error.refusal);
  }
  // A message's own text is measured: a private one's, a topic's too.
  if ("text" in command && command.text.length * 3 > maxMessage) {
    const bytes = Buffer.byteLength(command.text);
    if (bytes > maxMessage) return tooLong(chat, member, bytes, "id" in command ? command.id : undefined);
  }
  perform(chat, member, command);
}

/** A message over --max-message: its own size is told, and its id, so the client keeps it. */
function tooLong(chat: ChatContext, member: Member, bytes: number, id?: string): void {
  chat.metrics.refusedSize++;
  const { maxMessage } = chat.limits;
  chat.refuse(
    member,
    refusal("too-long", `That message is ${bytes} bytes; the limit is ${maxMessage}. It was not sent.`),
    id,
  );
}

/**
 * True if the member's bucket, and its address's, have a token for this frame; refused
 * FLOOD_REFUSALS in a row, it is closed.
 */
function withinRate(chat: ChatContext, member: Member, frame: string): boolean {
  // One clock read for both buckets, and none when neither limits anything (as in the benchmark).
  const now = chat.limits.rate > 0 || chat.limits.ipRate > 0 ? chat.clock.now() : 0;
  const connectionMay = member.bucket.take(now);
  if (connectionMay && member.budget.messages.take(now)) {
    member.refusedInARow = 0;
    return true;
  }
  chat.metrics.refusedRate++;
  const { rate, burst, ipRate } = chat.limits;
  if (++member.refusedInARow >= FLOOD_REFUSALS) {
    chat.metrics.closedFlooding++;
    chat.log.line(`Closing ${describeUser(member.user)}: flooding`);
    // RFC 6455 §7.4.1: 1008, a message that violates the endpoint's policy.
    member.socket.close(1008, `flooding: more than ${rate} messages a second`);
  } else {
    chat.refuse(
      member,
      refusal(
        "rate-limited",
        connectionMay
          ? `Your address is sending too fast: at most ${ipRate} messages a second from all its connections together. This one was not sent.`
          : `You are sending too fast: at most ${rate} messages a second (${burst} at once). This one was not sent.`,
      ),
      member.json ? idOf(frame) : undefined,
    );
  }
  return false;
}

/**
 * The id of a message refused before it is read (too fast, or far too long), so that its sender
 * knows which it was: looked for from the end, where our clients put it, without parsing the frame.
 */
function idOf(frame: string): string | undefined {
  const at = frame.lastIndexOf('"id":"');
  if (at < 0) return undefined;
  const id = frame.slice(at + 6, frame.indexOf('"', at + 6));
  return /^[A-Za-z0-9_-]{1,64}$/.test(id) ? id : undefined;
}
