/**
 * Whose private messages each person refuses (`/ignore NAME`). A registered person's list is kept
 * with their account, in a table of the shared state (`private-ignores`, by the skeleton of the
 * account's name), so it holds on every device and instance and across restarts; a guest's lasts
 * as long as the connection (their client sends it again after a reconnection). Names are
 * compared as names are (case and look-alike letters aside). The clients hide the room messages
 * of the people on the list themselves: the server sends a room's messages once to everyone.
 */
import { nameSkeleton } from "../../common/lookalikes";
import type { Member } from "../member";
import type { SharedState, Table } from "../state/state";

/** People one person may ignore, at most. */
export const MAX_IGNORED = 100;

interface IgnoreRow {
  names: string[];
}

function checkRow(value: unknown): IgnoreRow | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const { names } = value as Record<string, unknown>;
  return Array.isArray(names) && names.every((n) => typeof n === "string") ? { names: [...names] } : undefined;
}

export class Ignores {
  readonly #table: Table<IgnoreRow>;
  readonly #guests = new WeakMap<Member, string[]>();

  constructor(state: SharedState) {
    this.#table = state.table("private-ignores", checkRow);
  }

  /** The account of `key` (its skeleton) is gone: its list goes too, not to its name's next owner. */
  async forget(key: string): Promise<void> {
    if (this.#table.has(key)) await this.#table.delete(key);
  }

  /** Hears of every change to a registered person's list, on any instance: `account` by its skeleton. */
  onChange(listener: (accountKey: string, names: string[]) => void): void {
    this.#table.onChange((key, row) => listener(key, row?.names ?? []));
  }

  /** The names `member` ignores, as they typed them. */
  of(member: Member): string[] {
    return member.account === null ? (this.#guests.get(member) ?? []) : this.kept(member.account);
  }

  /** The names a registered person ignores, connected or not. */
  kept(account: string): string[] {
    return this.#table.get(nameSkeleton(account))?.names ?? [];
  }

  /** True if `names` has `name`, or a look-alike. */
  static has(names: string[], name: string): boolean {
    const key = nameSkeleton(name);
    return names.some((n) => nameSkeleton(n) === key);
  }

  /**
   * Adds `name` to (or, with `ignored` false, takes it off) `member`'s list; resolves with the
   * list as it is then, or rejects if a registered person's could not be written (Redis away).
   */
  async set(member: Member, name: string, ignored: boolean): Promise<string[]> {
    const before = this.of(member);
    const others = before.filter((n) => nameSkeleton(n) !== nameSkeleton(name));
    const names = ignored ? [...others, name] : others;
    if (member.account === null) this.#guests.set(member, names);
    else if (names.length === 0) await this.#table.delete(nameSkeleton(member.account));
    else await this.#table.put(nameSkeleton(member.account), { names });
    return names;
  }
}
