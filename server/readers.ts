/**
 * Readers that do not keep up. A client that stops reading (a stopped process, a stalled network,
 * or one that never meant to read) gets its messages queued in the server's memory. Three limits
 * give that memory back, each closing the reader with 1013 (try again later); a client of ours
 * reconnects and resumes from history:
 * - one reader's backlog past --max-backlog, checked at each broadcast to its room;
 * - a reader that has taken nothing of its backlog for --stall-timeout seconds, however small it is;
 * - the backlogs of every reader together past --max-unsent: the biggest are closed first.
 */
import { describeUser } from "../common/text";
import type { Limits } from "./config";
import type { Logger } from "./log";
import type { Member } from "./member";
import type { Metrics } from "./metrics";

export class SlowReaders {
  /** Unsent bytes of every reader together, at the last sweep. */
  unsent = 0;

  constructor(
    private readonly limits: Limits,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {}

  /** Closes those of `readers` whose backlog is past --max-backlog. */
  closeOverLimit(readers: Iterable<Member>): void {
    for (const member of readers) {
      const waiting = member.socket.getBufferedAmount();
      if (waiting <= this.limits.maxBacklog || !member.open) continue;
      this.metrics.closedSlow++;
      this.#close(member, `too slow, ${waiting} bytes waiting`, "too slow: messages piled up unread");
    }
  }

  /**
   * Looks over every reader, now and then: one over its own limit (it fell behind on its own
   * replies, not on a broadcast), one stalled, and the biggest while all together are too many.
   */
  sweep(everyone: Iterable<Member>, now = performance.now()): void {
    const backlogged: [Member, number][] = [];
    let unsent = 0;
    for (const member of everyone) {
      if (!member.open) continue;
      const waiting = member.socket.getBufferedAmount();
      if (waiting > 0) backlogged.push([member, waiting]);
      unsent += waiting;
      if (waiting === 0 || waiting < member.backlogSeen) member.stalledSince = waiting === 0 ? undefined : now;
      else member.stalledSince ??= now;
      member.backlogSeen = waiting;
    }
    this.unsent = unsent;
    for (const [member, waiting] of backlogged) {
      if (waiting > this.limits.maxBacklog) {
        this.metrics.closedSlow++;
        this.#close(member, `too slow, ${waiting} bytes waiting`, "too slow: messages piled up unread");
      } else if (member.stalledSince !== undefined && now - member.stalledSince > this.limits.stallTimeout * 1000) {
        this.metrics.closedStalled++;
        this.#close(
          member,
          `reading nothing for ${this.limits.stallTimeout} s, ${waiting} bytes waiting`,
          "stalled: nothing read for a while",
        );
      }
    }
    if (unsent <= this.limits.maxUnsent) return;
    backlogged.sort(([, a], [, b]) => b - a);
    for (const [member, waiting] of backlogged) {
      if (unsent <= this.limits.maxUnsent) break;
      if (!member.open) continue;
      unsent -= waiting;
      this.metrics.closedUnsent++;
      this.#close(
        member,
        `the server's readers have too much waiting, ${waiting} bytes of it here`,
        "too slow: the server has too much waiting to send",
      );
    }
  }

  #close(member: Member, why: string, reason: string): void {
    this.log.line(`Closing ${describeUser(member.user)}: ${why}`);
    // RFC 6455 §7.4.1: 1013, try again later.
    member.socket.close(1013, reason);
  }
}
