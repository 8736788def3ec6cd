/**
 * What a command's handler (handlers.ts, intake.ts) may use of the chat: its parts, and the few
 * things the core does for everyone (send to one member, refuse with a code, tell a room, move a
 * member into a room). The Chat is this context; handlers never reach further into it.
 */
import type { Clock } from "../common/clock";
import type { Refusal } from "../common/codes";
import type { ChatEvent, NoticeEvent, SaidEvent } from "../common/events";
import type { Accounts } from "./accounts/accounts";
import type { Limits } from "./config";
import type { Directory } from "./directory";
import type { Logger } from "./log";
import type { Member } from "./member";
import type { Metrics } from "./metrics";
import type { Moderation } from "./moderation/moderation";
import type { Names } from "./names";
import type { PrivateMessages } from "./private/private";
import type { Rooms } from "./rooms";
import type { SharedState } from "./state/state";

export interface ChatContext {
  readonly limits: Limits;
  readonly clock: Clock;
  readonly rooms: Rooms;
  readonly names: Names;
  readonly directory: Directory;
  /** Tables kept across restarts and shared between instances: accounts, bans, topics… */
  readonly state: SharedState;
  /** Who is logged in to which registered name (accounts/). */
  readonly accounts: Accounts;
  /** Private messages: sending, delivering, ignore lists, what is kept for the offline (private/). */
  readonly privates: PrivateMessages;
  readonly log: Logger;
  readonly metrics: Metrics;
  /** Roles, bans, mutes, topics: what moderation keeps, and asks of the paths of the core (moderation/). */
  readonly moderation: Moderation;
  /** Sends one event to one member, in its format. */
  send(member: Member, event: ChatEvent): void;
  /** Tells the member why what it sent was refused (the message's id, if it had one). */
  refuse(member: Member, refusal: Refusal, id?: string): void;
  /** Sends one event to this instance's people in `room` (but `except`), not to other instances. */
  tell(room: string, event: ChatEvent, except?: Member): void;
  /** Tells the member's room (and the other instances) of a join, leave or rename. */
  announce(event: NoticeEvent, except?: Member): void;
  /** Takes the member out of its room, told to the room, to wait outside every room (rooms.ts, OUTSIDE). */
  leaveRoom(member: Member): void;
  /** Moves the member into `room`, telling both rooms and replaying the new one's history. */
  enter(member: Member, room: string, how: { firstRoom: boolean; since?: number | null }): void;
  /** How many of `events`, oldest first, the member's address may not be replayed now. */
  beyondReplayBudget(member: Member, events: SaidEvent[]): number;
}
