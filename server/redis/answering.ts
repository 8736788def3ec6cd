/**
 * Whether a connection to Redis is still answering. A Redis that stops (SIGSTOP, a machine that
 * hangs, a network that drops everything on the way) keeps its TCP connections open: nothing fails,
 * commands just never come back, for minutes until TCP gives up. So each connection is watched: its
 * commands outstanding are counted, and one that has had some outstanding for STALL_MS with no
 * answer at all meanwhile has stopped answering. A busy Redis that answers slowly is not stalled:
 * every answer (or message on a subscription) counts, however many are still queued behind it.
 * The link (link.ts) sends a PING on each connection once in a while, so that an idle one is
 * watched too.
 */

/** No answer for this long with commands outstanding: Redis has stopped answering. Generous: a busy Redis is not away. */
export const STALL_MS = 4_000;
/** How often the link PINGs each connection and looks at its watch. */
export const PROBE_MS = 1_000;

export class AnsweringWatch {
  #outstanding = 0;
  /** When Redis last answered on this connection, or when it was last asked with nothing outstanding. */
  #since: number;

  constructor(
    private readonly now: () => number = Date.now,
    private readonly stallMs = STALL_MS,
  ) {
    this.#since = now();
  }

  /** Counts `reply` as outstanding until it settles; returns it, unchanged. */
  track<T>(reply: Promise<T>): Promise<T> {
    if (this.#outstanding++ === 0) this.#since = this.now();
    const settled = () => {
      this.#outstanding--;
      this.heard();
    };
    reply.then(settled, settled);
    return reply;
  }

  /** Redis said something on this connection (an answer, or a message on a subscription). */
  heard(): void {
    this.#since = this.now();
  }

  /** True while something is outstanding: a PING need not be added. */
  get waiting(): boolean {
    return this.#outstanding > 0;
  }

  /** True if commands have been outstanding for the deadline with no answer at all meanwhile. */
  get stalled(): boolean {
    return this.#outstanding > 0 && this.now() - this.#since > this.stallMs;
  }
}
