/**
 * The flood's exactly-once check (bench/load.ts): every client counts, for every sender, which of
 * the sender's messages it has had, so the report can say whether each message arrived once and in
 * each sender's order.
 */

/**
 * Whether every client got every flood message exactly once, in each sender's order: deliveries of
 * a message already had (`duplicates`), arriving past one not yet had (`skipped`: lost, or out of
 * order), and messages never had once the flood drained (`missing`).
 */
export interface DeliveryCheck {
  duplicates: number;
  skipped: number;
  missing: number;
}

/** A client as the check knows it: its index among all the generator's clients. */
interface Sender {
  index: number;
}

/** Counts, for every client and every sender, which of the sender's messages it has had. */
export class DeliveryChecker {
  /** A sender's client index to its slot in the tables below. */
  readonly #slot: Int32Array;
  /** How many messages each sender has sent. */
  readonly #sent: Int32Array;
  /** For each client, the number of the message it should have next from each sender. */
  readonly #expected: Int32Array[];
  #duplicates = 0;
  #skipped = 0;

  /** @param clients how many clients there are, indexed from 0 @param senders those that send */
  constructor(clients: number, senders: Sender[]) {
    this.#slot = new Int32Array(clients).fill(-1);
    for (const [slot, client] of senders.entries()) this.#slot[client.index] = slot;
    this.#sent = new Int32Array(senders.length);
    this.#expected = Array.from({ length: clients }, () => new Int32Array(senders.length));
  }

  /** The number to put in `sender`'s next message. */
  next(sender: Sender): number {
    return this.#sent[this.#slot[sender.index]!]!++;
  }

  received(client: Sender, sender: number, number: number): void {
    const slot = this.#slot[sender] ?? -1;
    if (slot < 0) return;
    const expected = this.#expected[client.index]!;
    if (number < expected[slot]!) return void this.#duplicates++;
    if (number > expected[slot]!) this.#skipped++;
    expected[slot] = number + 1;
  }

  result(): DeliveryCheck {
    let missing = 0;
    for (const expected of this.#expected)
      for (const [slot, next] of expected.entries()) missing += this.#sent[slot]! - next;
    return { duplicates: this.#duplicates, skipped: this.#skipped, missing };
  }
}
