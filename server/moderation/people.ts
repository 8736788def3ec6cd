/**
 * Who a moderation command names: a registered name is its account (whoever holds it is logged in
 * to it, on any number of connections); any other name is the guest connected with it now, known
 * by their address, since a guest can take another name. Found on this instance, or on another
 * (the directory's mirror of the others' people), and in the accounts table.
 */

import type { Clock } from "../../common/clock";
import type { ChatEvent } from "../../common/events";
import { nameSkeleton } from "../../common/lookalikes";
import { normalizeName } from "../../common/text";
import type { Directory } from "../directory";
import type { Logger } from "../log";
import type { Member } from "../member";
import type { Names } from "../names";
import type { Rooms } from "../rooms";
import type { SharedState, Table } from "../state/state";
import { type Address, addressOf, contains, guestNetwork, type Network, showNetwork } from "./networks";

/**
 * What moderation uses of the chat core (the Chat is it): its parts, and telling and moving people.
 * A subset of the handlers' context, named here so that moderation does not import what imports it.
 */
export interface ModerationChat {
  readonly state: SharedState;
  readonly rooms: Rooms;
  readonly names: Names;
  readonly directory: Directory;
  readonly clock: Clock;
  readonly log: Logger;
  send(member: Member, event: ChatEvent): void;
  tell(room: string, event: ChatEvent, except?: Member): void;
  enter(member: Member, room: string, how: { firstRoom: boolean }): void;
}

/** A row of the accounts table (server/accounts/, issue #23), as far as moderation reads it. */
export interface AccountRow {
  name: string;
  /** When it was registered (ISO 8601): a role given before then was an earlier account's. */
  created: string;
}
export const checkAccount = (v: unknown): AccountRow | undefined =>
  typeof (v as AccountRow | null)?.name === "string" && typeof (v as AccountRow).created === "string"
    ? (v as AccountRow)
    : undefined;

/** Someone a command acts on. */
export interface Person {
  /** Their name as shown: the account's as registered, or the guest's. */
  name: string;
  /** The registered account; null for a guest. */
  account: string | null;
  /** A guest's network (their IPv4 address, or IPv6 /64): what a ban or mute of them is on. */
  network?: Network;
  /** The rooms they are in (an account may be connected several times), here and elsewhere; none if not connected. */
  rooms: string[];
}

export class People {
  constructor(
    private readonly chat: ModerationChat,
    private readonly accounts: Table<AccountRow>,
  ) {}

  /** The account registered under `name` (or a look-alike), as registered. */
  account(name: string): string | undefined {
    return this.accounts.get(nameSkeleton(normalizeName(name)))?.name;
  }

  /** The person of that name: an account, or a guest connected now; undefined if neither. */
  find(name: string): Person | undefined {
    const account = this.account(name);
    if (account !== undefined) return { name: account, account, rooms: this.#roomsOf(account) };
    const connected = this.#guest(name);
    if (!connected) return undefined;
    const address = addressOf(connected.address);
    return {
      name: connected.name,
      account: null,
      rooms: [connected.room],
      ...(address && { network: guestNetwork(address) }),
    };
  }

  /** This instance's connections of `person`: every one logged in to the account, or the guest's. */
  here(person: Person): Member[] {
    const found: Member[] = [];
    const skeleton = nameSkeleton(person.account ?? person.name);
    for (const [, member] of this.chat.rooms.everyone()) {
      const key = person.account !== null ? member.account : member.account === null ? member.name : null;
      if (key !== null && nameSkeleton(key) === skeleton) found.push(member);
    }
    return found;
  }

  /**
   * The networks (as a guest's: IPv4 address, IPv6 /64) the account's connections come from now,
   * here and on other instances, where everyone connected is `reachable` by whoever asks: what a
   * ban or mute of it covers too, so that logging out and taking another name does not dodge it.
   */
  networksOf(account: string, reachable: (account: string | null) => boolean): Network[] {
    const skeleton = nameSkeleton(account);
    const addresses = this.here({ name: account, account, rooms: [] }).map((member) => member.address);
    for (const { user } of this.#elsewhere())
      if (user.name !== null && user.registered && nameSkeleton(user.name) === skeleton) addresses.push(user.address);
    const networks = new Map<string, Network>();
    for (const text of addresses) {
      const address = addressOf(text);
      if (address) networks.set(showNetwork(guestNetwork(address)), guestNetwork(address));
    }
    const spared = (network: Network) =>
      [...this.inNetwork((address) => contains(network, address))].some((someone) => !reachable(someone.account));
    return [...networks.values()].filter((network) => !spared(network));
  }

  /** Everyone connected now (here and elsewhere) whose address is in `network`: who a ban of it would reach. */
  *inNetwork(covers: (address: Address) => boolean): Generator<{ name: string; account: string | null; room: string }> {
    for (const [room, member] of this.chat.rooms.everyone()) {
      const address = addressOf(member.address);
      if (address && covers(address)) yield { name: member.name ?? member.address, account: member.account, room };
    }
    for (const { user, room } of this.#elsewhere()) {
      const address = addressOf(user.address);
      const name = user.name ?? user.address;
      if (address && covers(address))
        yield { name, account: user.name === null ? null : (this.account(name) ?? null), room };
    }
  }

  /** The guest holding `name` now, here or on another instance: its name, address and room. */
  #guest(name: string): { name: string; address: string; room: string } | undefined {
    const here = this.chat.names.holder(name);
    if (here?.name) return { name: here.name, address: here.address, room: here.room };
    const skeleton = nameSkeleton(normalizeName(name));
    for (const { user, room } of this.#elsewhere())
      if (user.name !== null && !user.registered && nameSkeleton(user.name) === skeleton)
        return { name: user.name, address: user.address, room };
    return undefined;
  }

  /** The rooms the account's connections are in, here and on other instances. */
  #roomsOf(account: string): string[] {
    const rooms = new Set(this.here({ name: account, account, rooms: [] }).map((member) => member.room));
    const skeleton = nameSkeleton(account);
    for (const { user, room } of this.#elsewhere())
      if (user.name !== null && user.registered && nameSkeleton(user.name) === skeleton) rooms.add(room);
    return [...rooms];
  }

  *#elsewhere() {
    for (const [room] of this.chat.directory.roomsElsewhere())
      for (const user of this.chat.directory.elsewhere(room).users) yield { user, room };
  }
}

/** What a restriction on `person` is on: their account, or their network. */
export function targetOf(person: Person): { kind: "account" | "address"; target: string; name?: string } {
  if (person.account !== null) return { kind: "account", target: person.account };
  return { kind: "address", target: showNetwork(person.network!), name: person.name };
}
