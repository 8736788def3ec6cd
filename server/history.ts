/**
 * What was said in each room: its sequence numbers and its last messages, replayed to whoever
 * enters. Kept in memory; with a file, also in SQLite (WAL mode), so that history and sequence
 * numbers survive a restart.
 *
 * Writes to SQLite are batched: events are queued and written in one transaction per FLUSH_DELAY_MS
 * (or as soon as FLUSH_BATCH are waiting), so a broadcast never waits for the disk.
 *
 * Both are bounded: memory by a byte budget for all rooms and a count of rooms remembered (the
 * least recently used let go first), the store by a count per room and an age.
 */
import { Database } from "bun:sqlite";
import type { SaidEvent } from "../common/events";
import { eventBytes } from "./event-bytes";

const FLUSH_DELAY_MS = 50;
const FLUSH_BATCH = 1000;
/** How often messages older than --store-days are deleted from the store. */
const PRUNE_EVERY_MS = 60_000;
/** Past --store-bytes, the oldest messages are deleted this many at a time, at most this many times a write. */
const STORE_PRUNE_ROWS = 50;
const STORE_PRUNE_BATCHES = 200;
/** When over a budget, history is let go until this share of it is used: not on every message. */
const EVICT_TO = 0.9;

/** An event as the store keeps it: a row of the events table. */
interface Row {
  seq: number;
  time: string;
  type: "message" | "action";
  name: string | null;
  address: string;
  text: string;
  id: string | null;
  /** 1 for a message said through the HTTP API (User.bot). */
  bot: number | null;
  /** 1 for a message said by a registered name, logged in (User.registered). */
  registered: number | null;
}

const COLUMNS = "seq, time, type, name, address, text, id, bot, registered";

function fromRow(room: string, r: Row): SaidEvent {
  const event: SaidEvent = {
    type: r.type,
    room,
    seq: r.seq,
    time: r.time,
    from: { name: r.name, address: r.address, ...(r.bot === 1 && { bot: true }) },
    text: r.text,
  };
  if (r.registered === 1) event.from.registered = true;
  if (r.id !== null) event.id = r.id;
  return event;
}

interface Room {
  /** The last sequence number used in the room (0: none yet). */
  seq: number;
  /** Recent events, oldest first; trimmed to `limit` now and then rather than on every add. */
  events: SaidEvent[];
  /** What `events` cost, by eventBytes. */
  bytes: number;
  /** When the room was last used, as a count of uses: the least recently used is let go first. */
  usedAt: number;
}

export interface HistoryOptions {
  /** Memory for the events of every room together. */
  maxBytes?: number;
  /** Rooms remembered; past it, rooms nobody is in are forgotten, least recently used first. */
  maxRooms?: number;
  /** How much the store keeps: events per room, and days (0: for good). */
  storeKeep?: { perRoom: number; days: number; bytes?: number };
  /** Whether someone is in a room here: a room someone is in keeps its numbering when memory is short. */
  isOccupied?: (room: string) => boolean;
}

export class History {
  readonly #rooms = new Map<string, Room>();
  readonly #limit: number;
  readonly #db: Database | undefined;
  readonly #maxBytes: number;
  readonly #maxRooms: number;
  readonly #storeKeep: { perRoom: number; days: number; bytes?: number };

  /** The --store file, if any: shared state (state/local.ts) keeps its tables in it too. */
  get database(): Database | undefined {
    return this.#db;
  }
  #bytes = 0;
  #uses = 0;
  #pending: SaidEvent[] = [];
  #flushTimer: Timer | undefined;
  #pruneTimer: Timer | undefined;
  readonly #isOccupied: (room: string) => boolean;

  /**
   * @param limit how many events per room to keep for replay (0: none)
   * @param file the SQLite file to keep them in across restarts; memory only without one
   */
  constructor(
    limit: number,
    file?: string,
    {
      maxBytes = Infinity,
      maxRooms = Infinity,
      storeKeep = { perRoom: Infinity, days: 0 },
      isOccupied = () => false,
    }: HistoryOptions = {},
  ) {
    this.#limit = limit;
    this.#isOccupied = isOccupied;
    this.#maxBytes = maxBytes;
    this.#maxRooms = maxRooms;
    this.#storeKeep = storeKeep;
    if (file !== undefined) {
      this.#db = new Database(file, { create: true, strict: true });
      this.#db.run("PRAGMA journal_mode = WAL");
      this.#db.run("PRAGMA synchronous = NORMAL");
      this.#db.run(`CREATE TABLE IF NOT EXISTS events (
        room TEXT NOT NULL, seq INTEGER NOT NULL, time TEXT NOT NULL, type TEXT NOT NULL,
        name TEXT, address TEXT NOT NULL, text TEXT NOT NULL,
        PRIMARY KEY (room, seq)) WITHOUT ROWID`);
      this.#db.run("CREATE INDEX IF NOT EXISTS events_by_time ON events (time)");
      // Stores written before messages had their sender's id, or marked bots (the HTTP API) and
      // registered names, get the columns, empty for old rows: no id, a person's, no mark.
      const columns = this.#db.query<{ name: string }, []>("PRAGMA table_info(events)").all();
      for (const column of ["id TEXT", "bot INTEGER", "registered INTEGER"])
        if (!columns.some(({ name }) => column.startsWith(`${name} `)))
          this.#db.run(`ALTER TABLE events ADD COLUMN ${column}`);
      if (storeKeep.days > 0) {
        this.pruneOld();
        this.#pruneTimer = setInterval(() => this.pruneOld(), PRUNE_EVERY_MS);
        this.#pruneTimer.unref();
      }
    }
  }

  /** How many events per room are kept for replay (0: none). */
  get limit(): number {
    return this.#limit;
  }

  /** Numbers `event` (its `seq` is set here) and records it. */
  add(event: Omit<SaidEvent, "seq">): SaidEvent {
    const room = this.#room(event.room);
    const numbered: SaidEvent = {
      type: event.type,
      room: event.room,
      seq: ++room.seq,
      time: event.time,
      from: event.from,
      text: event.text,
    };
    if (event.id !== undefined) numbered.id = event.id;
    this.#keep(room, numbered);
    return numbered;
  }

  /** Keeps a numbered event for replay (trimmed to `limit` now and then) and for the store. */
  #keep(room: Room, event: SaidEvent): void {
    if (this.#limit > 0) {
      room.events.push(event);
      const size = eventBytes(event);
      room.bytes += size;
      this.#bytes += size;
      if (room.events.length >= 2 * this.#limit) this.#trim(room, room.events.length - this.#limit);
      if (this.#bytes > this.#maxBytes) this.#letGo();
    }
    this.#persist(event);
  }

  /** Drops a room's `count` oldest events from memory. */
  #trim(room: Room, count: number): void {
    const dropped = room.events.slice(0, count).reduce((sum, event) => sum + eventBytes(event), 0);
    room.events = room.events.slice(count);
    room.bytes -= dropped;
    this.#bytes -= dropped;
  }

  /**
   * Over a budget: rooms nobody is in are forgotten, least recently used first, while there are
   * too many; the events of the least recently used rooms (occupied or not) are let go while they
   * take too much memory. A room whose events were let go still numbers on; one that was forgotten
   * starts again from 1 (from the store, with one), which our clients take as a restart.
   */
  #letGo(): void {
    const byAge = [...this.#rooms].sort(([, a], [, b]) => a.usedAt - b.usedAt);
    for (const [name, room] of byAge) {
      if (this.#rooms.size <= EVICT_TO * this.#maxRooms && this.#bytes <= EVICT_TO * this.#maxBytes) break;
      if (this.#rooms.size > EVICT_TO * this.#maxRooms && !this.#isOccupied(name)) {
        this.#trim(room, room.events.length);
        this.#rooms.delete(name);
      } else if (this.#bytes > EVICT_TO * this.#maxBytes) {
        this.#trim(room, room.events.length);
      }
    }
  }

  /** Memory the events of every room take, by eventBytes, and how many rooms are remembered. */
  get usage(): { bytes: number; rooms: number } {
    return { bytes: this.#bytes, rooms: this.#rooms.size };
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

  /** The room's last events, oldest first, marked as history: --history of them at most. */
  recent(roomName: string): SaidEvent[] {
    if (this.#limit === 0) return [];
    return this.#room(roomName)
      .events.slice(-this.#limit)
      .map((event) => ({ ...event, history: true }));
  }

  /**
   * What a client that last saw `seq` in the room missed, as far as history still has it, and how
   * many messages it missed that history no longer has. A `seq` beyond the room's own (the server
   * started its numbering over) is answered like a first visit.
   */
  since(roomName: string, seq: number): { events: SaidEvent[]; missed: number } {
    const room = this.#room(roomName);
    if (seq > room.seq) return { events: this.recent(roomName), missed: 0 };
    // Events are trimmed to --history only now and then: a replay never gives more than that.
    const events = room.events
      .slice(-this.#limit)
      .filter((event) => event.seq > seq)
      .map((event) => ({ ...event, history: true as const }));
    const firstKept = events[0]?.seq ?? room.seq + 1;
    return { events, missed: Math.max(0, firstKept - seq - 1) };
  }

  /**
   * The room's events numbered below `before`, oldest first, marked as history: --history of them
   * at most, from the store when there is one (it keeps more than memory), and whether none older
   * is kept (`start`).
   */
  before(
    roomName: string,
    before: number,
    maxBytes = Number.POSITIVE_INFINITY,
  ): { events: SaidEvent[]; start: boolean } {
    if (this.#limit === 0) return { events: [], start: true };
    // Newest first, as far as --history and `maxBytes` (what the asker may still be replayed) go:
    // a page costs what it gives, however big the room's messages are.
    const newestFirst = this.#db ? this.#storedBefore(roomName, before) : this.#keptBefore(roomName, before);
    const events: SaidEvent[] = [];
    let bytes = 0;
    let start = true;
    for (const event of newestFirst) {
      bytes += eventBytes(event);
      if (events.length === this.#limit || bytes > maxBytes) {
        start = false;
        break;
      }
      events.push({ ...event, history: true });
    }
    return { events: events.reverse(), start };
  }

  /** The room's events in memory below `before`, newest first. */
  *#keptBefore(roomName: string, before: number): Generator<SaidEvent> {
    const events = this.#room(roomName).events;
    for (let i = events.length - 1; i >= 0; i--) if (events[i]!.seq < before) yield events[i]!;
  }

  /** The room's events in the store below `before`, newest first, read only as far as they are taken. */
  *#storedBefore(roomName: string, before: number): Generator<SaidEvent> {
    this.flush();
    const rows = this.#db!.query<Row, [string, number, number]>(
      `SELECT ${COLUMNS} FROM events WHERE room = ? AND seq < ? ORDER BY seq DESC LIMIT ?`,
    );
    for (const row of rows.iterate(roomName, before, this.#limit + 1)) yield fromRow(roomName, row);
  }

  /** Removes message `seq` from the room's history, in memory and in the store; false if it had none. */
  remove(roomName: string, seq: number): boolean {
    const room = this.#room(roomName);
    const at = room.events.findIndex((event) => event.seq === seq);
    if (at >= 0) {
      const size = eventBytes(room.events[at]!);
      room.events.splice(at, 1);
      room.bytes -= size;
      this.#bytes -= size;
    }
    if (!this.#db) return at >= 0;
    this.flush();
    const { changes } = this.#db.query("DELETE FROM events WHERE room = ? AND seq = ?").run(roomName, seq);
    return at >= 0 || changes > 0;
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
      "INSERT OR REPLACE INTO events (room, seq, time, type, name, address, text, id, bot, registered) VALUES ($room, $seq, $time, $type, $name, $address, $text, $id, $bot, $registered)",
    );
    // What the store keeps per room is enforced as it is written: it never grows past --store-keep.
    const lastSeqs = new Map<string, number>();
    const pruneRoom = this.#db.prepare("DELETE FROM events WHERE room = ? AND seq <= ?");
    this.#db.transaction(() => {
      for (const e of rows) {
        insert.run({
          room: e.room,
          seq: e.seq,
          time: e.time,
          type: e.type,
          name: e.from.name,
          address: e.from.address,
          text: e.text,
          id: e.id ?? null,
          bot: e.from.bot ? 1 : null,
          registered: e.from.registered ? 1 : null,
        });
        lastSeqs.set(e.room, Math.max(lastSeqs.get(e.room) ?? 0, e.seq));
      }
      for (const [room, seq] of lastSeqs)
        if (seq > this.#storeKeep.perRoom) pruneRoom.run(room, seq - this.#storeKeep.perRoom);
    })();
    this.#boundStore();
  }

  /**
   * Keeps the store within --store-bytes: past it, the oldest messages are deleted (so the rooms
   * quiet longest lose theirs first), a batch at a time, until it holds 90% of it. SQLite reuses the
   * pages they free, so the file stops growing at about the bound.
   */
  #boundStore(): void {
    const max = this.#storeKeep.bytes ?? Number.POSITIVE_INFINITY;
    if (!this.#db || !Number.isFinite(max) || this.storeBytes() <= max) return;
    const oldest = this.#db.prepare(
      "DELETE FROM events WHERE (room, seq) IN (SELECT room, seq FROM events ORDER BY time LIMIT ?)",
    );
    // Bounded work per write: what is left over goes at the next one.
    for (let batch = 0; batch < STORE_PRUNE_BATCHES && this.storeBytes() > EVICT_TO * max; batch++) {
      if (oldest.run(STORE_PRUNE_ROWS).changes === 0) break;
    }
  }

  /** What the store's messages take on disk: the pages in use (free pages are reused, not counted). */
  storeBytes(): number {
    if (!this.#db) return 0;
    const pragma = (name: string) => Number(Object.values(this.#db!.query(`PRAGMA ${name}`).get() as object)[0]);
    return (pragma("page_count") - pragma("freelist_count")) * pragma("page_size");
  }

  /** Deletes from the store what is older than --store-days. */
  pruneOld(): void {
    if (!this.#db || this.#storeKeep.days <= 0) return;
    const cutoff = new Date(Date.now() - this.#storeKeep.days * 86_400_000).toISOString();
    this.#db.query("DELETE FROM events WHERE time < ?").run(cutoff);
  }

  close(): void {
    clearInterval(this.#pruneTimer);
    this.flush();
    this.#db?.close();
  }

  /** A room's state, loaded from the store the first time the room is used. */
  #room(name: string): Room {
    let room = this.#rooms.get(name);
    if (room) {
      room.usedAt = ++this.#uses;
      return room;
    }
    if (this.#rooms.size >= this.#maxRooms) this.#letGo();
    room = { seq: 0, events: [], bytes: 0, usedAt: ++this.#uses };
    if (this.#db) {
      const last = this.#db
        .query<{ seq: number | null }, [string]>("SELECT max(seq) AS seq FROM events WHERE room = ?")
        .get(name);
      room.seq = last?.seq ?? 0;
      if (this.#limit > 0) {
        const rows = this.#db
          .query<Row, [string, number]>(`SELECT ${COLUMNS} FROM events WHERE room = ? ORDER BY seq DESC LIMIT ?`)
          .all(name, this.#limit);
        room.events = rows.reverse().map((r) => fromRow(name, r));
        room.bytes = room.events.reduce((sum, event) => sum + eventBytes(event), 0);
        this.#bytes += room.bytes;
      }
    }
    this.#rooms.set(name, room);
    return room;
  }
}
