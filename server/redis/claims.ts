/**
 * This instance's names as Redis keeps them for every instance (nameKey in keys.ts): each with the
 * time it was claimed, so that a conflict has an answer. While Redis is away the instance gives
 * names alone, so two instances may give the same one. When Redis is back, each name of this
 * instance is registered again and reconciled in one script (REGISTER_NAME_SCRIPT): the earlier
 * claim keeps it, and the other holder, here or on another instance, loses it. What was let go of
 * meanwhile is let go of in Redis too, or the name would stay taken there.
 */
import { nameSkeleton } from "../../common/lookalikes";
import type { Answer, ClaimAnswer } from "../directory";
import type { Failures } from "./failures";
import * as keys from "./keys";
import type { Link } from "./link";

/** Names let go of while cut off that are remembered, at most; past this, such a name stays taken until this instance stops. */
const MAX_RELEASED_AWAY = 10_000;

/** A name given here: to whom, and when (ms since the epoch, by this machine's clock). */
interface Claim {
  name: string;
  address: string;
  tokenHash: string;
  at: number;
}

/** A name let go of while cut off: held for its token until `until` (ms since the epoch), or not held. */
interface Release {
  name: string;
  address: string;
  tokenHash: string;
  until: number;
}

/** A person of this instance who loses their name to an earlier claim. */
export interface LostName {
  name: string;
  address: string;
}

export class NameClaims {
  /** This instance's names, by skeleton. */
  readonly #claims = new Map<string, Claim>();
  /** Names given while cut off, by skeleton, not registered in Redis since. */
  readonly #unregistered = new Set<string>();
  /** Names let go of while cut off, by skeleton and address: to let go of in Redis once it is back. */
  readonly #releasedAway = new Map<string, Release>();

  constructor(
    private readonly instance: string,
    private readonly link: Link,
    private readonly failures: Failures,
  ) {}

  /** Cut off, the name was given here as a single instance gives it: registered once Redis is back. */
  claimedAlone(name: string, address: string, tokenHash: string): void {
    const key = nameSkeleton(name);
    this.#claims.set(key, { name, address, tokenHash, at: Date.now() });
    this.#unregistered.add(key);
  }

  /** Claims `name` in Redis. */
  claim(name: string, address: string, tokenHash: string): Answer<ClaimAnswer> {
    const key = nameSkeleton(name);
    const claim = { name, address, tokenHash, at: Date.now() };
    this.#claims.set(key, claim);
    const args = [this.instance, address, keys.ALIVE_PREFIX, tokenHash, String(claim.at)];
    return this.link.send("EVAL", [keys.CLAIM_NAME_SCRIPT, "1", keys.nameKey(name), ...args]).then(
      (reply) => {
        const answer = claimAnswer(reply);
        if (answer !== "free") this.forget(name, address);
        return answer;
      },
      (error) => {
        // Given here as if cut off (names.ts): registered once Redis answers again.
        this.#unregistered.add(key);
        this.failures.count("name-claim", error);
        throw error;
      },
    );
  }

  /** Lets go of `name` in Redis, held for `tokenHash` for `holdMs`. */
  release(name: string, address: string, tokenHash: string, holdMs: number): void {
    this.forget(name, address);
    this.failures.watch("name-release", this.#release(name, address, tokenHash, holdMs));
  }

  /** Cut off, `name` was let go of here: let go of in Redis too once it is back. */
  releasedAlone(name: string, address: string, tokenHash: string, holdMs: number): void {
    this.forget(name, address);
    if (this.#releasedAway.size < MAX_RELEASED_AWAY)
      this.#releasedAway.set(`${nameSkeleton(name)} ${address}`, {
        name,
        address,
        tokenHash,
        until: Date.now() + holdMs,
      });
  }

  /** Forgets the claim of `name` at `address`; false if there was none. */
  forget(name: string, address: string): boolean {
    const key = nameSkeleton(name);
    if (this.#claims.get(key)?.address !== address) return false;
    this.#claims.delete(key);
    this.#unregistered.delete(key);
    return true;
  }

  /**
   * On (re)connecting, as Redis may have missed or forgotten what this instance did: lets go of what
   * was let go of meanwhile, then registers each name of `people`, this instance's everyone.
   * Returns those who lost their name to an earlier claim.
   */
  async register(people: Iterable<{ name: string; address: string; tokenHash: string }>): Promise<LostName[]> {
    this.#unregistered.clear();
    await this.#releaseAway();
    const lost: LostName[] = [];
    for (const { name, address, tokenHash } of people) {
      const key = nameSkeleton(name);
      let claim = this.#claims.get(key);
      if (claim?.address !== address) this.#claims.set(key, (claim = { name, address, tokenHash, at: Date.now() }));
      if (await this.#register(claim)) lost.push({ name, address });
    }
    return lost;
  }

  /**
   * While connected: what was given or let go of in the moments it did not count as connected yet
   * (during a catch-up) goes to Redis now. Returns those who lost their name to an earlier claim.
   */
  async settle(): Promise<LostName[]> {
    await this.#releaseAway();
    const lost: LostName[] = [];
    for (const key of [...this.#unregistered]) {
      const claim = this.#claims.get(key);
      if (claim && (await this.#register(claim))) lost.push(claim);
      // Unless it was given again meanwhile, to be registered in turn.
      if (this.#claims.get(key) === claim) this.#unregistered.delete(key);
    }
    return lost;
  }

  /** Registers one name; true if an earlier claim elsewhere keeps it (this one is forgotten then). */
  async #register({ name, address, tokenHash, at }: Claim): Promise<boolean> {
    const reply = await this.link.send("EVAL", [
      keys.REGISTER_NAME_SCRIPT,
      "2",
      keys.nameKey(name),
      keys.CHANNEL,
      this.instance,
      address,
      tokenHash,
      String(at),
      keys.ALIVE_PREFIX,
      name,
    ]);
    if (reply !== "lost") return false;
    this.forget(name, address);
    return true;
  }

  async #releaseAway(): Promise<void> {
    for (const [key, release] of [...this.#releasedAway]) {
      const { name, address, tokenHash, until } = release;
      await this.#release(name, address, tokenHash, Math.max(0, until - Date.now()));
      if (this.#releasedAway.get(key) === release) this.#releasedAway.delete(key);
    }
  }

  #release(name: string, address: string, tokenHash: string, holdMs: number): Promise<unknown> {
    return this.link.send("EVAL", [
      keys.RELEASE_NAME_SCRIPT,
      "1",
      keys.nameKey(name),
      this.instance,
      address,
      tokenHash,
      String(holdMs),
    ]);
  }
}

/** CLAIM_NAME_SCRIPT's reply: false (the name is ours now), "taken", or "held <ms left>". */
function claimAnswer(reply: unknown): ClaimAnswer {
  if (reply === "taken") return "taken";
  const held = typeof reply === "string" ? /^held (\d+)$/.exec(reply) : null;
  return held ? { heldMs: Number(held[1]) } : "free";
}
