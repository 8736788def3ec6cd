/**
 * Who holds which name. Names are unique regardless of case and of look-alike letters (their
 * skeleton, common/lookalikes.ts): on this instance by this registry,
 * across instances by the directory, which is asked before a name is given. While it answers, the
 * name is reserved here, so that nobody else on this instance takes it meanwhile.
 *
 * A name belongs to a person, not to one connection: each connection has a secret resume token
 * (given in `welcome`), and when a connection with a name ends, the name is held for its token
 * for --name-grace seconds. Whoever comes back with that token (a reconnecting client, on any
 * instance) gets it back; nobody else can take it meanwhile.
 *
 * A registered name (accounts/) is its owner's for good: nobody else may take it, or a look-alike,
 * here or on any instance (every instance has the accounts table), at any time. It is not held
 * here nor claimed through the directory: every connection logged in to the account has it at
 * once, and a guest asking for it is refused whoever holds it.
 */
import { type Refusal, refusal } from "../common/codes";
import { nameSkeleton } from "../common/lookalikes";
import { nameProblem, normalizeName } from "../common/text";
import { type ClaimAnswer, type Directory, whenAnswered } from "./directory";
import type { Member } from "./member";

/** A departed person's name, kept for their token until `until` (ms since the epoch). */
interface Held {
  tokenHash: string;
  until: number;
}

export class Names {
  /** Who holds each name, by its lower-case form. */
  readonly #holders = new Map<string, Member>();
  /** Names of people who left, held for their return. */
  readonly #held = new Map<string, Held>();
  /** Names being claimed through the directory right now. */
  readonly #reserved = new Set<string>();
  readonly #sweep: ReturnType<typeof setInterval>;
  /** The name of the account registered under a skeleton, if any (set by accounts/). */
  registeredAs: (key: string) => string | undefined = () => undefined;

  constructor(
    private readonly directory: Directory,
    /** How long a departed person's name is held for them. */
    private readonly graceMs: number,
  ) {
    // Held names expire by themselves; the sweep only gives their memory back.
    this.#sweep = setInterval(() => this.#forgetExpired(), Math.max(1000, graceMs)).unref();
  }

  /**
   * Gives `member` the name if it is free here and on every other instance (or held for this
   * member's token), then calls `done` with the refusal, if any: at once for a single instance,
   * once Redis answers with several.
   */
  claim(member: Member, wanted: string, done: (problem?: Refusal) => void): void {
    const checked = this.#check(member, wanted);
    if ("problem" in checked) return done(checked.problem);
    const { name } = checked;
    if (checked.owned) {
      // The account's own name: no guest can have it, so nothing to claim; its guest name goes.
      this.#letGo(member, 0);
      member.name = name;
      return done();
    }
    const key = nameSkeleton(name);
    this.#reserved.add(key);
    whenAnswered(
      this.directory.claimName(name, member.address, member.tokenHash),
      (answer) => this.#claimed(member, name, answer, done),
      // Redis did not answer: this instance decides alone, as when it is down.
      () => this.#claimed(member, name, "free", done),
    );
  }

  /** This instance's connections that hold `name` (or a look-alike): a private message's recipients here. */
  holdersOf(name: string): Member[] {
    const holder = this.#holders.get(nameSkeleton(name));
    return holder ? [holder] : [];
  }

  /**
   * The member left: its name is held for its token for the grace period, for it to come back to;
   * or freed at once if it left on purpose.
   */
  release(member: Member, leftOnPurpose: boolean): void {
    this.#letGo(member, leftOnPurpose ? 0 : this.graceMs);
  }

  /**
   * Another instance's earlier claim keeps `name` (directory.ts, nameLost): the member at `address`
   * that has it, or a look-alike, here loses it. Returns it and the name it had, if there is one.
   */
  lose(name: string, address: string): { member: Member; name: string } | undefined {
    const key = nameSkeleton(name);
    const member = this.#holders.get(key);
    if (member?.address !== address || member.name === null) return undefined;
    const had = member.name;
    this.#holders.delete(key);
    member.name = null;
    return { member, name: had };
  }

  /** Who holds `name` (or a look-alike) on this instance, if anyone. */
  holder(name: string): Member | undefined {
    return this.#holders.get(nameSkeleton(normalizeName(name)));
  }

  /**
   * `key` was just registered: a guest here who has that name (or a look-alike) loses it, except
   * `keep` (who registered it), and it is held for nobody's return. Returns the guest and the name it had.
   */
  evict(key: string, keep?: Member): { member: Member; name: string } | undefined {
    this.#held.delete(key);
    const member = this.#holders.get(key);
    if (!member || member === keep || member.name === null) return undefined;
    const had = member.name;
    this.#letGo(member, 0);
    member.name = null;
    return { member, name: had };
  }

  stop(): void {
    clearInterval(this.#sweep);
  }

  /** Lets go of the member's name (it left, or took another), held for its token for `holdMs`. */
  #letGo(member: Member, holdMs: number): void {
    const { name } = member;
    if (!name || this.#holders.get(nameSkeleton(name)) !== member) return;
    const key = nameSkeleton(name);
    this.#holders.delete(key);
    if (holdMs > 0) this.#held.set(key, { tokenHash: member.tokenHash, until: Date.now() + holdMs });
    this.directory.releaseName(name, member.address, member.tokenHash, holdMs);
  }

  #claimed(member: Member, name: string, answer: ClaimAnswer, done: (problem?: Refusal) => void): void {
    const key = nameSkeleton(name);
    this.#reserved.delete(key);
    if (!member.open) {
      if (answer === "free") this.directory.releaseName(name, member.address, member.tokenHash, 0);
      return;
    }
    // Registered while the directory answered (an operator, another instance): the owner's now.
    if (answer === "free" && this.registeredAs(key) !== undefined) {
      this.directory.releaseName(name, member.address, member.tokenHash, 0);
      return done(registered(name, this.registeredAs(key)));
    }
    if (answer !== "free") return done(answer === "taken" ? taken(name) : held(name, answer.heldMs));
    this.#letGo(member, 0);
    // The same person on a connection that has not closed yet (a half-open TCP connection): the
    // name moves to the new one.
    const stale = this.#holders.get(key);
    if (stale && stale !== member) stale.name = null;
    this.#held.delete(key);
    this.#holders.set(key, member);
    member.name = name;
    done();
  }

  /** The name in its normal form if `member` may have it as far as this instance knows, or why not. */
  #check(member: Member, wanted: string): { name: string; owned?: true } | { problem: Refusal } {
    const name = normalizeName(wanted);
    const problem = nameProblem(name);
    if (problem) return { problem: refusal("name-invalid", problem) };
    const key = nameSkeleton(name);
    const owned = this.#owned(member, name, key);
    if (owned) return owned;
    if (member.name === name) return { problem: refusal("no-change", `You are already ${name}.`) };
    const holder = this.#holders.get(key);
    const heldByOther = holder !== undefined && holder !== member && holder.tokenHash !== member.tokenHash;
    if (heldByOther || this.#reserved.has(key)) return { problem: taken(name) };
    const kept = this.#held.get(key);
    const heldMs = kept === undefined || kept.tokenHash === member.tokenHash ? 0 : kept.until - Date.now();
    if (heldMs > 0) return { problem: held(name, heldMs) };
    return { name };
  }

  /** What a registered name, or a logged-in member, decides: undefined for a guest asking for a free name. */
  #owned(member: Member, name: string, key: string): { name: string; owned: true } | { problem: Refusal } | undefined {
    const owner = this.registeredAs(key);
    const mine = member.account !== null && nameSkeleton(member.account) === key;
    if (owner !== undefined && !mine) return { problem: registered(name, owner) };
    if (owner !== undefined && member.name === owner)
      return { problem: refusal("no-change", `You are already ${owner}.`) };
    if (owner !== undefined) return { name: owner, owned: true };
    if (member.account === null) return undefined;
    return {
      problem: refusal(
        "forbidden",
        `You are logged in as ${member.account}, and that is your name. /logout first to take another.`,
      ),
    };
  }

  #forgetExpired(): void {
    const now = Date.now();
    for (const [key, held] of this.#held) if (held.until <= now) this.#held.delete(key);
  }
}

/** A registered name (`owner`), or a look-alike of it (`name`): its owner logs in to have it. */
export function registered(name: string, owner = name): Refusal {
  const what = name === owner ? `The name '${name}'` : `The name '${name}' looks like '${owner}', which`;
  return refusal(
    "name-registered",
    `${what} belongs to a registered account: log in with /login ${owner} PASSWORD, or choose another.`,
  );
}

function taken(name: string): Refusal {
  return refusal("name-taken", `The name '${name}' is taken; choose another.`);
}

/** Why a member has no name any more: its name was given twice while instances were cut off, and the other claim was earlier. */
export function lostNameRefusal(name: string): Refusal {
  return refusal(
    "name-lost",
    `The name '${name}' was also given to someone on another server while the servers were cut off from each other, and their claim was earlier: you have no name now. Pick another with /nick.`,
  );
}

/** A name held for someone who dropped: say so, and for how long. */
function held(name: string, ms: number): Refusal {
  const seconds = Math.max(1, Math.ceil(ms / 1000));
  return refusal(
    "name-held",
    `The name '${name}' is held for someone who dropped and may come back, for ${seconds} s more; choose another, or try again then.`,
  );
}
