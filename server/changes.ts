/**
 * The budget of renames and room changes each address has (--ip-changes): each is told to a whole
 * room. Logging in, registering and the other account commands count as renames too, and so do
 * moderation commands (what moderators do is told to whole rooms as well).
 */
import { refusal } from "../common/codes";
import type { ChatContext } from "./context";
import type { Member } from "./member";

/** True if the member's address may make one more change now; if not, it is refused with `rate-limited`. */
export function mayChange(chat: ChatContext, member: Member, id?: string): boolean {
  if (member.budget.changes.take()) return true;
  chat.metrics.refusedRate++;
  chat.refuse(
    member,
    refusal(
      "rate-limited",
      `Too many renames, room changes and moderation commands from your address: at most ${chat.limits.ipChanges} a second. Wait a moment and try again.`,
    ),
    id,
  );
  return false;
}
