/**
 * Readers that do not keep up. A client that stops reading (a stopped process, a stalled network,
 * or one that never meant to read) gets its messages queued in the server's memory. Three limits
 * give that memory back:
 * - one reader's backlog past --max-backlog, checked whenever a broadcast to its room or a reply
 *   to it meets backpressure;
 * - a reader that has taken nothing of its backlog for --stall-timeout seconds, however small it is;
 * - the memory the backlogs of every reader take together past --max-unsent: the biggest are cut
 *   off first. The total is kept as each reader is looked at, so that it is checked at the same
 *   moments as one reader's backlog, and a burst cannot pass it between two sweeps. A backlog
 *   takes up to twice its bytes (MEMORY_PER_BYTE), so the bytes waiting are kept to half of it.
 *
 * A reader past a limit is terminated, not closed: a close frame would wait behind the backlog
 * for a reader that does not read, and Bun keeps a closed socket's backlog, out of our reach, until
 * its peer reads it or some seconds pass. A client of ours reconnects and resumes from history.
 * For the same reason the backlog of a socket closed politely (by its client, or by the chat for
 * another reason) stays counted in the total for as long as Bun may keep it.
 */
import { type Clock, REAL_CLOCK } from "../common/clock";
import { describeUser } from "../common/text";
import type { Limits } from "./config";
import type { Logger } from "./log";
import type { Member } from "./member";
import type { Metrics } from "./metrics";

/**
 * How long Bun keeps a politely closed socket whose peer reads nothing, at most, for an
 * --idle-timeout: measured (Bun 1.4), half the idle timeout up to 16 s, on a 4 s tick.
 */
export const lingerMs = (idleTimeout: number) => (Math.min(idleTimeout / 2, 16) + 4) * 1000;

/**
 * The memory a backlog takes, at most, for each byte waiting: Bun's buffer for it grows by doubling,
 * and the block it grew out of is not always given back at once. Measured (Bun 1.4): 46 MiB
 * waiting took 97 MiB, 96 MiB took 188.
 */
const MEMORY_PER_BYTE = 2;

/** A reader's backlog at its last look, and since when none of it has gone (undefined: not stalled). */
interface Backlog {
  seen: number;
  stalledSince: number | undefined;
}

export class SlowReaders {
  /** The backlog of every open reader at its last look, together. */
  #open = 0;
  /**
   * The readers that had a backlog at their last look, with it: the only ones that can be too big.
   * A backlog grows only by a broadcast or a reply that meets backpressure, and each of those looks
   * at once. Kept here rather than on every member: most members have none, most of the time.
   */
  readonly #backlogged = new Map<Member, Backlog>();
  /** Backlogs of sockets closed politely, which Bun may still hold: oldest first. */
  readonly #closing: { bytes: number; until: number }[] = [];
  #closingBytes = 0;
  /** True while the biggest backlogs are being cut: a cut's departure notice must not start another. */
  #cutting = false;

  constructor(
    private readonly limits: Limits,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly clock: Clock = REAL_CLOCK,
  ) {}

  /** Unsent bytes held now, as far as they are known: open readers' and closing sockets'. */
  get unsent(): number {
    const now = this.clock.now();
    while (this.#closing.length > 0 && this.#closing[0]!.until <= now)
      this.#closingBytes -= this.#closing.shift()!.bytes;
    return this.#open + this.#closingBytes;
  }

  /**
   * Looks at `readers` after a broadcast to them (or a reply to one of them) met backpressure:
   * those past --max-backlog are cut off, and the biggest of everyone's while all together are
   * past --max-unsent.
   */
  closeOverLimit(readers: Iterable<Member>): void {
    for (const member of readers) {
      if (!member.open) continue;
      const waiting = this.#look(member);
      if (waiting <= this.limits.maxBacklog) continue;
      this.metrics.closedSlow++;
      this.#terminate(member, `too slow, ${waiting} bytes waiting`);
    }
    if (this.#overCap()) this.#cutBiggest();
  }

  /**
   * Looks over every reader, now and then: one over its own limit, one stalled, and the biggest
   * while all together are too many. It also brings the total up to date with what has drained.
   */
  sweep(everyone: readonly Member[], now = this.clock.now()): void {
    const backlogged: [Member, Backlog][] = [];
    for (const member of everyone) {
      if (!member.open) continue;
      const before = this.#backlogged.get(member)?.seen ?? 0;
      const waiting = this.#look(member);
      const backlog = this.#backlogged.get(member);
      if (!backlog) continue;
      backlogged.push([member, backlog]);
      if (waiting < before) backlog.stalledSince = now;
      else backlog.stalledSince ??= now;
    }
    for (const [member, { seen: waiting, stalledSince }] of backlogged) {
      if (!member.open) continue;
      if (waiting > this.limits.maxBacklog) {
        this.metrics.closedSlow++;
        this.#terminate(member, `too slow, ${waiting} bytes waiting`);
      } else if (stalledSince !== undefined && now - stalledSince > this.limits.stallTimeout * 1000) {
        this.metrics.closedStalled++;
        this.#terminate(member, `reading nothing for ${this.limits.stallTimeout} s, ${waiting} bytes waiting`);
      }
    }
    if (this.#overCap()) this.#cutBiggest();
  }

  /**
   * A member's socket closed (the transport's close handler). A polite close (a close frame from
   * either side) leaves its backlog with Bun for a while, still counted; an abnormal one (1006: a
   * termination, a reset, a timeout) gave it back.
   */
  closed(member: Member, code: number): void {
    const bytes = this.#forget(member);
    if (bytes === 0 || code === 1006) return;
    this.#closing.push({ bytes, until: this.clock.now() + lingerMs(this.limits.idleTimeout) });
    this.#closingBytes += bytes;
  }

  /** True while the backlogs together may take more memory than --max-unsent. */
  #overCap(): boolean {
    return this.unsent * MEMORY_PER_BYTE > this.limits.maxUnsent;
  }

  /** The member's backlog now, counted in the total in place of what it was at the last look. */
  #look(member: Member): number {
    const waiting = member.socket.getBufferedAmount();
    const backlog = this.#backlogged.get(member);
    this.#open += waiting - (backlog?.seen ?? 0);
    if (waiting === 0) this.#backlogged.delete(member);
    else if (backlog) backlog.seen = waiting;
    else this.#backlogged.set(member, { seen: waiting, stalledSince: undefined });
    return waiting;
  }

  /** The member's backlog is gone (or is Bun's alone now): it no longer counts among the open. */
  #forget(member: Member): number {
    const bytes = this.#backlogged.get(member)?.seen ?? 0;
    this.#open -= bytes;
    this.#backlogged.delete(member);
    return bytes;
  }

  /**
   * Cuts off the biggest backlogs until all together fit in --max-unsent, each looked at afresh
   * (what has drained since its last look is not cut for). Closing sockets cannot be cut: what
   * they hold leaves less room for the rest.
   */
  #cutBiggest(): void {
    if (this.#cutting) return;
    this.#cutting = true;
    try {
      const backlogged: [Member, number][] = [];
      for (const member of [...this.#backlogged.keys()]) {
        const waiting = member.open ? this.#look(member) : 0;
        if (waiting > 0) backlogged.push([member, waiting]);
      }
      backlogged.sort(([, a], [, b]) => b - a);
      for (const [member, waiting] of backlogged) {
        if (!this.#overCap()) break;
        if (!member.open) continue;
        this.metrics.closedUnsent++;
        this.#terminate(member, `the server's readers have too much waiting, ${waiting} bytes of it here`);
      }
    } finally {
      this.#cutting = false;
    }
  }

  /** Drops the connection at once, and its backlog with it (see the top of this file). */
  #terminate(member: Member, why: string): void {
    this.log.line(`Closing ${describeUser(member.user)}: ${why}`);
    this.#forget(member);
    member.socket.terminate();
  }
}
