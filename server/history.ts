/**
 * What was said in each room: its sequence numbers and its last messages, replayed to whoever
 * enters. Kept in memory; with a file, also in SQLite (WAL mode), so that history and sequence
 * numbers survive a restart.
 *
 * Writes to SQLite are batched: events are queued and written in one transaction per FLUSH_DELAY_MS
 * (or as soon as FLUSH_BATCH are waiting), so a broadcast never waits for the disk.
 */
import { Database } from "bun:sqlite";
import type { SaidEvent } from "../common/events";

const FLUSH_DELAY_MS = 50;
const FLUSH_BATCH = 1000;

interface Room {
  /** The last sequence number used in the room (0: none yet). */
  seq: number;
  /** Recent events, oldest first; trimmed to `limit` now and then rather than on every add. */
  events: SaidEvent[];
}

export class History {
  readonly #rooms = new Map<string, Room>();
  readonly #limit: number;
  readonly #db: Database | undefined;
  #pending: SaidEvent[] = [];
  #flushTimer: Timer | undefined;

  /**
   * @param limit how many events per room to keep for replay (0: none)
   * @param file the SQLite file to keep them in across restarts; memory only without one
   */
  constructor(limit: number, file?: string) {
    this.#limit = limit;
    if (file !== undefined) {
      this.#db = new Database(file, { create: true, strict: true });
      this.#db.run("PRAGMA journal_mode = WAL");
      this.#db.run("PRAGMA synchronous = NORMAL");
      this.#db.run(`CREATE TABLE IF NOT EXISTS events (
        room TEXT NOT NULL, seq INTEGER NOT NULL, time TEXT NOT NULL, type TEXT NOT NULL,
        name TEXT, address TEXT NOT NULL, text TEXT NOT NULL,
        PRIMARY KEY (room, seq)) WITHOUT ROWID`);
    }
  }

  /** How many events per room are kept for replay (0: none). */
  get limit(): number {
    return this.#limit;
  }

  /** Numbers `event` (its `seq` is set here) and records it. */
  add(event: Omit<SaidEvent, "seq">): SaidEvent {
    const room = this.#room(event.room);
    const numbered: SaidEvent = { type: event.type, room: event.room, seq: ++room.seq, time: event.time, from: event.from, text: event.text };
    this.#keep(room, numbered);
    return numbered;
  }

  /** Keeps a numbered event for replay (trimmed to `limit` now and then) and for the store. */
  #keep(room: Room, event: SaidEvent): void {
    if (this.#limit > 0) {
      room.events.push(event);
      if (room.events.length >= 2 * this.#limit) room.events = room.events.slice(-this.#limit);
    }
    this.#persist(event);
  }

  /** Queues an event for the store: written with others in one transaction, off the broadcast path. */
  #persist(event: SaidEvent): void {
    if (!this.#db) return;
    this.#pending.push(event);
    if (this.#pending.length >= FLUSH_BATCH) this.flush();
    else this.#flushTimer ??= setTimeout(() => this.flush(), FLUSH_DELAY_MS);
  }

  /**
   * Records an event numbered elsewhere (by Redis, for several servers sharing one chat), so that
   * this server's own replays include it. False (and nothing done) for an event already recorded.
   */
  record(event: SaidEvent): boolean {
    const room = this.#room(event.room);
    if (event.seq <= room.seq) return false;
    room.seq = event.seq;
    this.#keep(room, event);
    return true;
  }

  /** The room's last events, oldest first, marked as history. */
  recent(roomName: string): SaidEvent[] {
    if (this.#limit === 0) return [];
    return this.#room(roomName).events.slice(-this.#limit).map((event) => ({ ...event, history: true }));
  }

  /**
   * What a client that last saw `seq` in the room missed, as far as history still has it, and how
   * many messages it missed that history no longer has. A `seq` beyond the room's own (the server
   * started its numbering over) is answered like a first visit.
   */
  since(roomName: string, seq: number): { events: SaidEvent[]; missed: number } {
    const room = this.#room(roomName);
    if (seq > room.seq) return { events: this.recent(roomName), missed: 0 };
    const events = room.events.filter((event) => event.seq > seq).map((event) => ({ ...event, history: true as const }));
    const firstKept = events[0]?.seq ?? room.seq + 1;
    return { events, missed: Math.max(0, firstKept - seq - 1) };
  }

  /** Every room this server knows, with its last sequence number. */
  seqs(): [room: string, seq: number][] {
    return [...this.#rooms].map(([name, room]) => [name, room.seq]);
  }

  /** The last sequence number used in the room (0: none yet). */
  lastSeq(roomName: string): number {
    return this.#room(roomName).seq;
  }

  /** Writes what is queued to the store, in one transaction. */
  flush(): void {
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    if (!this.#db || this.#pending.length === 0) return;
    const rows = this.#pending;
    this.#pending = [];
    const insert = this.#db.prepare(
      "INSERT OR REPLACE INTO events (room, seq, time, type, name, address, text) VALUES ($room, $seq, $time, $type, $name, $address, $text)",
    );
    this.#db.transaction(() => {
      for (const e of rows) insert.run({ room: e.room, seq: e.seq, time: e.time, type: e.type, name: e.from.name, address: e.from.address, text: e.text });
    })();
  }

  close(): void {
    this.flush();
    this.#db?.close();
  }

  /** A room's state, loaded from the store the first time the room is used. */
  #room(name: string): Room {
    let room = this.#rooms.get(name);
    if (room) return room;
    room = { seq: 0, events: [] };
    if (this.#db) {
      const last = this.#db.query<{ seq: number | null }, [string]>("SELECT max(seq) AS seq FROM events WHERE room = ?").get(name);
      room.seq = last?.seq ?? 0;
      if (this.#limit > 0) {
        const rows = this.#db
          .query<{ seq: number; time: string; type: "message" | "action"; name: string | null; address: string; text: string }, [string, number]>(
            "SELECT seq, time, type, name, address, text FROM events WHERE room = ? ORDER BY seq DESC LIMIT ?",
          )
          .all(name, this.#limit);
        room.events = rows.reverse().map((r) => ({ type: r.type, room: name, seq: r.seq, time: r.time, from: { name: r.name, address: r.address }, text: r.text }));
      }
    }
    this.#rooms.set(name, room);
    return room;
  }
}
