/**
 * Budgets for password guesses, so that guessing one is slow, and so that a flood of guesses never
 * locks the owner out.
 *
 * Every password attempt (a login, a /password, an /unregister) takes a token, before its hash
 * runs, from each of these buckets that applies (so that attempts still waiting for the hasher
 * count too); with none left, it is refused (`rate-limited`, with the time to wait), unhashed:
 * - its address (prefix, as every address budget): ADDRESS, whatever the accounts tried;
 * - its address and the account together: PAIR, the tighter one, so one address cannot put all of
 *   its budget into one account;
 * - the account, from addresses that have not logged in to it in the last TRUSTED_DAYS: ACCOUNT.
 *   This bounds guesses from many addresses at once (a botnet), and does not apply to an address
 *   the owner logged in from: a flood from elsewhere empties it, and the owner, from their own
 *   address, still gets in. From a new address, the owner waits with the guessers until the flood
 *   stops; a session token (no password, so no budget) gets in from anywhere.
 * A success gives back what it took (only wrong guesses spend), and makes its address trusted for
 * the account.
 *
 * With several instances (--redis), the buckets are Redis's, one for all of them, taken from in
 * one round trip per attempt (an attempt is about to cost a hash anyway): guessing through ten
 * instances is no faster than through one. Each instance keeps its own buckets too, which decide
 * alone while Redis is away. The trusted addresses are a table of the shared state, so that the
 * owner's address is known on every instance and after a restart (with --store or --redis).
 */
import type { Clock } from "../../common/clock";
import { TokenBucket } from "../../common/token-bucket";
import type { SharedBucket, SharedBudgets } from "../leases";
import type { SharedState, Table } from "../state/state";

/** Attempts at once, and then a second, from one address (10, then one every 6 s). */
const ADDRESS = { burst: 10, rate: 1 / 6 };
/** For one account from one address (5, then one a minute). */
const PAIR = { burst: 5, rate: 1 / 60 };
/** For one account from every address that is not trusted for it together (20, then one every 30 s). */
const ACCOUNT = { burst: 20, rate: 1 / 30 };
/** New accounts from one address (10, then one a minute): names are not to be hoarded. */
const REGISTRATIONS = { burst: 10, rate: 1 / 60 };
/** An address that logged in to an account stays trusted for it this long. */
const TRUSTED_DAYS = 30;
/** Addresses trusted per account, at most (the most recent). */
const TRUSTED_PER_ACCOUNT = 32;
/** Buckets kept at most, all kinds together; past it, the oldest are forgotten (#makeRoom). */
const MAX_BUCKETS = 100_000;
const SWEEP_EVERY_MS = 60_000;

/** A bucket an attempt takes from: its key, its size, and whose it is, for the refusal's words. */
type Wanted = [key: string, size: { burst: number; rate: number }, whose: string];

/** Addresses trusted for an account: address prefix → when it last logged in (ms since 1970). */
type TrustedRow = Record<string, number>;

function trustedRow(v: unknown): TrustedRow | undefined {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return undefined;
  return Object.values(v).every((at) => typeof at === "number") ? (v as TrustedRow) : undefined;
}

/** An attempt refused: how long to wait, in whole seconds. */
export interface TooMany {
  waitSeconds: number;
  /** Whose budget ran out, for the message: "your address", "this account". */
  whose: string;
}

export class Attempts {
  readonly #buckets = new Map<string, TokenBucket>();
  /** Account key → the addresses trusted for it. */
  readonly #trusted: Table<TrustedRow>;
  readonly #sweep: ReturnType<typeof setInterval>;

  /** @param shared with several instances, the buckets they share (Redis's); otherwise this instance's alone */
  constructor(
    private readonly clock: Clock,
    state: SharedState,
    private readonly shared?: SharedBudgets,
  ) {
    this.#trusted = state.table("trusted-addresses", trustedRow);
    this.#sweep = setInterval(() => this.forgetFull(), SWEEP_EVERY_MS).unref();
  }

  /**
   * Takes a token for one password attempt on `account` (its key; undefined for a name nobody
   * registered) from `prefix`; or says how long to wait. `exists`: whether the account does.
   */
  take(prefix: string, account: string, exists: boolean): Promise<TooMany | undefined> {
    return this.#takeAll(this.#wanted(prefix, account, exists));
  }

  /** Takes a token for registering an account from `prefix`; or says how long to wait. */
  register(prefix: string): Promise<TooMany | undefined> {
    return this.#takeAll([[`register ${prefix}`, REGISTRATIONS, "your address"]]);
  }

  /**
   * The attempt was right: what it took is given back, so that only wrong guesses spend the
   * budgets (the owner's script logging in every few seconds never runs out), and its address is
   * trusted for the account from now on.
   */
  succeeded(prefix: string, account: string): void {
    const taken = this.#wanted(prefix, account, true);
    for (const [key] of taken) this.#buckets.get(key)?.giveBack();
    if (this.shared?.available) this.shared.giveBack(taken.map(sharedBucket)).catch(() => {});
    this.trust(prefix, account);
  }

  /**
   * The address is trusted for the account from now on (it logged in to it, or registered it):
   * the newest TRUSTED_PER_ACCOUNT are kept. Two logins at once on two instances may keep only
   * one of the two; the other is trusted again at its next login.
   */
  trust(prefix: string, account: string): void {
    const addresses = Object.entries(this.#trusted.get(account) ?? {}).filter(([known]) => known !== prefix);
    addresses.push([prefix, this.clock.now()]);
    const newest = addresses.sort(([, a], [, b]) => a - b).slice(-TRUSTED_PER_ACCOUNT);
    this.#trusted.put(account, Object.fromEntries(newest)).catch(() => {
      // Not kept (Redis away): the address is trusted again at its next login.
    });
  }

  /** The account is gone: no address is trusted for it any more. */
  forget(account: string): void {
    if (this.#trusted.has(account)) this.#trusted.delete(account).catch(() => {});
  }

  isTrusted(account: string, prefix: string): boolean {
    const at = this.#trusted.get(account)?.[prefix];
    return at !== undefined && this.clock.now() - at < TRUSTED_DAYS * 86_400_000;
  }

  /** Forgets the buckets that are full again: a new one would start full. */
  forgetFull(): void {
    const now = this.clock.now();
    for (const [key, bucket] of this.#buckets) if (bucket.isFull(now)) this.#buckets.delete(key);
  }

  stop(): void {
    clearInterval(this.#sweep);
  }

  /**
   * The table is full (a flood from very many addresses): the full buckets go, and if that is not
   * enough, the oldest tenth. Refusing every new bucket instead would lock out everyone, the owner
   * from a known address included; forgetting the oldest only lets those addresses guess again.
   */
  #makeRoom(): void {
    this.forgetFull();
    if (this.#buckets.size < MAX_BUCKETS) return;
    let drop = Math.ceil(MAX_BUCKETS / 10);
    for (const key of this.#buckets.keys()) {
      if (drop-- === 0) break;
      this.#buckets.delete(key);
    }
  }

  /** The buckets an attempt on `account` from `prefix` takes from. */
  #wanted(prefix: string, account: string, exists: boolean): Wanted[] {
    const buckets: Wanted[] = [
      [`address ${prefix}`, ADDRESS, "your address"],
      [`pair ${account} ${prefix}`, PAIR, "your address for this name"],
    ];
    // A name nobody registered has no account budget: guessing it gets nobody in.
    if (exists && !this.isTrusted(account, prefix)) buckets.push([`account ${account}`, ACCOUNT, "this account"]);
    return buckets;
  }

  /**
   * Takes a token from each bucket, or from none, here and (with several instances) in Redis: an
   * attempt refused by one costs the others nothing. Should Redis fail to answer, this
   * instance's own buckets have decided.
   */
  async #takeAll(wanted: Wanted[]): Promise<TooMany | undefined> {
    const here = this.#takeAllHere(wanted);
    if (here || !this.shared?.available) return here;
    try {
      const refused = await this.shared.takeAll(wanted.map(sharedBucket));
      if (!refused) return undefined;
      for (const [key] of wanted) this.#buckets.get(key)?.giveBack();
      return { waitSeconds: Math.ceil(refused.waitMs / 1000), whose: wanted[refused.index]![2] };
    } catch {
      return undefined;
    }
  }

  /** Takes a token from each of this instance's own buckets, or from none. */
  #takeAllHere(wanted: Wanted[]): TooMany | undefined {
    const now = this.clock.now();
    let refused: TooMany | undefined;
    const buckets = wanted.map(([key, { burst, rate }, whose]) => {
      let bucket = this.#buckets.get(key);
      if (!bucket && this.#buckets.size >= MAX_BUCKETS) this.#makeRoom();
      bucket ??= new TokenBucket(rate, burst, this.clock);
      const waitMs = bucket.waitMs(now);
      if (waitMs > 0 && (!refused || refused.waitSeconds * 1000 < waitMs))
        refused = { waitSeconds: Math.ceil(waitMs / 1000), whose };
      return [key, bucket] as const;
    });
    if (refused) return refused;
    for (const [key, bucket] of buckets) {
      bucket.take(now);
      this.#buckets.set(key, bucket);
    }
    return undefined;
  }
}

/** A bucket as Redis keeps it, shared by the instances. */
function sharedBucket([key, { rate, burst }]: Wanted): SharedBucket {
  return { key: `guesses:${key}`, rate, burst };
}
