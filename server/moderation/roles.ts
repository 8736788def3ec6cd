/**
 * Who may do what: roles as data, and the one permission check every moderation command asks.
 *
 * From the lowest: a guest (not logged in), a member (logged in to a registered account), a room's
 * moderator (named by its owner), its owner (who claimed it; the default room belongs to the
 * operators), an operator (of the whole chat: named with --ops, or `accounts op NAME`). A role is
 * held by an account, never by a guest. Nobody acts on someone of an equal or higher role.
 *
 * The roles are shared tables (state/), so they hold on every instance and outlive a restart:
 * `operators` (by the name's skeleton), `owners` (by room), `moderators` (by room and skeleton).
 */
import { type Refusal, refusal } from "../../common/codes";
import { DEFAULT_ROOM } from "../../common/events";
import { nameSkeleton } from "../../common/lookalikes";
import type { Role } from "../../common/moderation-events";
import { roleWords } from "../../common/plain-text";
import type { SharedState, Table } from "../state/state";

/** Where someone stands in a room, from the lowest. */
export type Rank = "guest" | "member" | Role;
const ORDER: readonly Rank[] = ["guest", "member", "moderator", "owner", "operator"];
export const outranks = (a: Rank, b: Rank) => ORDER.indexOf(a) > ORDER.indexOf(b);
const atLeast = (a: Rank, b: Rank) => ORDER.indexOf(a) >= ORDER.indexOf(b);

/** Every moderation command, and the rank it needs. */
export const NEEDS = {
  claim: "member",
  mod: "owner",
  unmod: "owner",
  kick: "moderator",
  ban: "moderator",
  unban: "moderator",
  bans: "moderator",
  mute: "moderator",
  unmute: "moderator",
  topic: "moderator",
  slow: "moderator",
  delete: "moderator",
  modlog: "moderator",
} as const satisfies Record<string, Rank>;
export type Action = keyof typeof NEEDS;

/** Someone a command acts on, and where they stand. */
export interface Subject {
  name: string;
  rank: Rank;
}

/**
 * The one permission check: may someone of rank `actor` do `action` in `room`, to `subjects` (if
 * it acts on people)? A refusal (`forbidden`; `login-required` for a guest where logging in is
 * all it takes) or undefined.
 */
export function permission(actor: Rank, action: Action, room: string, subjects: Subject[] = []): Refusal | undefined {
  const needs: Rank = NEEDS[action];
  if (!atLeast(actor, needs)) {
    if (actor === "guest" && needs === "member")
      return refusal("login-required", `Log in to a registered name to /${action} a room.`);
    const who = needs === "member" ? "registered people" : `${plural(needs)} of ${room}`;
    return refusal("forbidden", `Only ${who} may /${action} here.`);
  }
  const above = subjects.find((subject) => !outranks(actor, subject.rank));
  if (above)
    return refusal(
      "forbidden",
      `You cannot /${action} ${above.name}: they are ${roleWords(above.rank as Role, room)}, and nobody acts on someone of an equal or higher role.`,
    );
  return undefined;
}

function plural(rank: Rank): string {
  return { guest: "guests", member: "members", moderator: "moderators", owner: "owners", operator: "operators" }[rank];
}

interface Appointment {
  name: string;
  by: string;
  at: string;
  /**
   * The `created` of the account it was given to: it holds for that account only, not for a later
   * one of the same name. Compared as it is, not as a time, so instances' clocks do not matter.
   * (Rows from before it was kept compare `at` with it.)
   */
  account?: string;
}
export type ModeratorRow = Appointment & { room: string };

const isAppointment = (v: unknown): v is Appointment => {
  const row = v as Record<string, unknown> | null;
  const account = row?.account === undefined || typeof row.account === "string";
  return typeof row?.name === "string" && typeof row.by === "string" && typeof row.at === "string" && account;
};
const checkAppointment = (v: unknown) => (isAppointment(v) ? v : undefined);
const checkModerator = (v: unknown) =>
  isAppointment(v) && typeof (v as ModeratorRow).room === "string" ? (v as ModeratorRow) : undefined;

export const moderatorKey = (room: string, account: string) => `${room} ${nameSkeleton(account)}`;

export class Roles {
  readonly operators: Table<Appointment>;
  readonly owners: Table<Appointment>;
  readonly moderators: Table<ModeratorRow>;
  /** The skeletons of the names given with --ops: operators once registered, and never deopped. */
  readonly #configured: Set<string>;

  /**
   * @param registeredAt when the account of a skeleton was registered (undefined: none is): a role
   * made before that was given to an earlier account of the name, unregistered or deleted since,
   * and counts for nothing, so that whoever registers the name next does not inherit it.
   */
  constructor(
    state: SharedState,
    ops: readonly string[],
    private readonly registeredAt: (skeleton: string) => string | undefined = () => "",
  ) {
    this.operators = state.table("operators", checkAppointment);
    this.owners = state.table("owners", checkAppointment);
    this.moderators = state.table("moderators", checkModerator);
    this.#configured = new Set(ops.map(nameSkeleton));
  }

  /** A new appointment of `name`'s account, by `by`: for the account as it is now. */
  appointment(name: string, by: string): Appointment {
    const account = this.registeredAt(nameSkeleton(name));
    return { name, by, at: new Date().toISOString(), ...(account !== undefined && { account }) };
  }

  /** Whether `row` gives its role to the account of `skeleton` as it is now. */
  holds(row: Appointment | undefined, skeleton: string): row is Appointment {
    const created = this.registeredAt(skeleton);
    if (row === undefined || created === undefined) return false;
    return row.account !== undefined ? row.account === created : row.at >= created;
  }

  /** The room's owner, if its owner's account is still the one that claimed it. */
  ownerOf(room: string): Appointment | undefined {
    const row = this.owners.get(room);
    return row && this.holds(row, nameSkeleton(row.name)) ? row : undefined;
  }

  isModerator(room: string, account: string): boolean {
    const skeleton = nameSkeleton(account);
    return this.holds(this.moderators.get(`${room} ${skeleton}`), skeleton);
  }

  /** Where the holder of `account` (null: a guest) stands in `room`. */
  rankOf(account: string | null, room: string): Rank {
    if (account === null) return "guest";
    const skeleton = nameSkeleton(account);
    if (this.isOperator(account)) return "operator";
    if (room !== DEFAULT_ROOM && nameSkeleton(this.ownerOf(room)?.name ?? "") === skeleton) return "owner";
    if (this.isModerator(room, account)) return "moderator";
    return "member";
  }

  /** The role of `account` in `room`, if it has one. */
  roleOf(account: string | null, room: string): Role | undefined {
    const rank = this.rankOf(account, room);
    return rank === "guest" || rank === "member" ? undefined : rank;
  }

  isOperator(account: string): boolean {
    const skeleton = nameSkeleton(account);
    return this.#configured.has(skeleton) || this.holds(this.operators.get(skeleton), skeleton);
  }

  /** True if the name was given with --ops: it cannot be deopped but by restarting without it. */
  isConfiguredOperator(account: string): boolean {
    return this.#configured.has(nameSkeleton(account));
  }

  /** True if someone of `rank` is spared moderation in a room: moderators and above. */
  static exempt(rank: Rank): boolean {
    return atLeast(rank, "moderator");
  }
}
