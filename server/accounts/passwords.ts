/**
 * Passwords: what one may be, and hashing them off the event loop, a few at a time.
 *
 * argon2id (Bun.password) costs about 125 ms of a core and 64 MiB per hash, by design. Bun runs
 * it on a thread of its own, so the event loop (everyone's messages) never waits for it; but a
 * flood of logins could still take every core and plenty of memory. So hashes run through one
 * queue: at most one at once per core beyond the first (one on a 2-core machine), at most
 * MAX_WAITING waiting, and past that an attempt is refused at once, without hashing. Attempts from
 * an address that logged in to the account before wait in a line of their own, served first, so
 * that a flood of guesses (which cannot come from such an address without the password) neither
 * keeps the owner waiting behind it nor fills the queue against them.
 */
import { availableParallelism } from "node:os";

/** How passwords are hashed and checked: Bun's argon2id; a unit test may give a faster one. */
export interface Passwords {
  hash(password: string): Promise<string>;
  verify(password: string, hash: string): Promise<boolean>;
}

export const ARGON2ID: Passwords = {
  hash: (password) => Bun.password.hash(password, { algorithm: "argon2id" }),
  // Bun.password.verify compares in constant time, and reads the algorithm from the hash.
  verify: (password, hash) => Bun.password.verify(password, hash),
};

/** A password is at least this many characters… */
export const MIN_PASSWORD_CHARACTERS = 8;
/** …and at most this many bytes (UTF-8): hashing a megabyte would be the attacker's gain. */
export const MAX_PASSWORD_BYTES = 1024;

/** Why `password` cannot be one, or undefined if it can. */
export function passwordProblem(password: string): string | undefined {
  // Each UTF-16 unit is at least a byte: a longer string is refused before it is looked at.
  if (password.length > MAX_PASSWORD_BYTES)
    return `A password can be at most ${MAX_PASSWORD_BYTES} bytes; that one has ${Buffer.byteLength(password)}.`;
  const characters = Array.from(password).length;
  if (characters < MIN_PASSWORD_CHARACTERS)
    return `A password needs at least ${MIN_PASSWORD_CHARACTERS} characters; that one has ${characters}.`;
  const bytes = Buffer.byteLength(password);
  if (bytes > MAX_PASSWORD_BYTES)
    return `A password can be at most ${MAX_PASSWORD_BYTES} bytes; that one has ${bytes}.`;
  // One that could never be typed again at a terminal or in the page (NUL, escape, a line break).
  if (/\p{Cc}/u.test(password)) return "A password cannot have control characters (tabs, line breaks, NUL…).";
  return undefined;
}

/** Hashes waiting for their turn in each line, at most; past this, an attempt is refused without hashing. */
export const MAX_WAITING = 16;

interface Waiting {
  start: () => void;
}

export class HashQueue {
  readonly atOnce: number;
  #running = 0;
  readonly #urgent: Waiting[] = [];
  readonly #others: Waiting[] = [];
  /** What an unknown name's password is checked against, so that it takes as long as a known one's. */
  #decoy: Promise<string> | undefined;

  constructor(
    readonly passwords: Passwords = ARGON2ID,
    atOnce = Math.min(4, Math.max(1, availableParallelism() - 1)),
    private readonly maxWaiting = MAX_WAITING,
  ) {
    this.atOnce = atOnce;
  }

  /** How many hashes wait for their turn now. */
  get waiting(): number {
    return this.#urgent.length + this.#others.length;
  }

  /**
   * Runs `job` once a turn is free (`urgent`: before the others waiting); undefined at once when
   * too many wait already.
   */
  run<T>(job: (passwords: Passwords) => Promise<T>, urgent = false): Promise<T> | undefined {
    // Each line has room of its own: a flood that fills the others' leaves the owners theirs.
    const line = urgent ? this.#urgent : this.#others;
    if (this.#running >= this.atOnce && line.length >= this.maxWaiting) return undefined;
    return new Promise<T>((resolve, reject) => {
      const start = () => {
        this.#running++;
        job(this.passwords)
          .then(resolve, reject)
          .finally(() => {
            this.#running--;
            this.#next();
          });
      };
      if (this.#running < this.atOnce) start();
      else line.push({ start });
    });
  }

  /** Checks `password` against `hash`, or, for no account, against a decoy: the same work either way. */
  verify(password: string, hash: string | undefined, urgent = false): Promise<boolean> | undefined {
    return this.run(async (passwords) => {
      if (hash !== undefined) return passwords.verify(password, hash);
      this.#decoy ??= passwords.hash(crypto.randomUUID());
      await passwords.verify(password, await this.#decoy);
      return false;
    }, urgent);
  }

  hash(password: string): Promise<string> | undefined {
    return this.run((passwords) => passwords.hash(password));
  }

  #next(): void {
    const waiting = this.#urgent.shift() ?? this.#others.shift();
    waiting?.start();
  }
}
