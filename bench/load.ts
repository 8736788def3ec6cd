/**
 * The load generator of bench/run.ts, run as its own process and steered over IPC, so that its
 * CPU time is counted apart from the server's and each process gets its own open-file limit.
 *
 * Its clients are WebSocket clients written on raw TCP (Bun.connect): one callback per TCP chunk,
 * whose frames are walked in place, instead of one event per message. A delivery then costs it
 * about 0.2 µs, half of it the kernel's receiving: about what a bare Bun server spends to send one.
 * run.ts reports its CPU share next to the server's, so a reader can tell who was the bottleneck.
 *
 * Every message it sends ends in a fixed tail, `#PP:IIIIII:TTTTTTTTTTTTT`: the phase (so frames of
 * an earlier phase, or history replayed on connecting, are not counted), the sender's index (so a
 * sender knows its own message came back), and a number: while measuring latency, the microsecond
 * it was meant to be sent, on this process's clock; in the flood, the sender's count of messages
 * so far, so that every client can check it got each one exactly once and in order. What a server
 * puts before it (`127.0.0.1:p: `) does not matter, nor do frames without the tail (notices).
 *
 * Socket.IO's clients speak Engine.IO over the same WebSocket: a message goes out as
 * `42["m","<text>"]` and comes back the same way, so the tail is followed by `"]`.
 */
import type { Socket } from "bun";
import { type DeliveryCheck, DeliveryChecker } from "./delivery";
import { COLON, digits, HASH, indexOfBlankLine, maskedFrame, ZERO } from "./frames";

/** How a client talks: plain text frames (our server, the ceiling, Node + ws), or Socket.IO's packets. */
export type Protocol = "plain" | "socketio";
export interface Endpoint {
  host: string;
  port: number;
  protocol: Protocol;
}

export type Command =
  | { type: "connect"; endpoints: Endpoint[]; count: number }
  | { type: "flood"; senders: number; window: number; warmupMs: number; durationMs: number }
  | { type: "latency"; perSecond: number; population: number; durationMs: number }
  | { type: "expect"; probe: number }
  | { type: "probe"; probe: number }
  | { type: "count"; probe: number };

export type Reply =
  | { type: "connected"; open: number; failed: number; firstError?: string }
  | { type: "flooded"; deliveries: number; seconds: number; closed: number; delivery: DeliveryCheck }
  | { type: "latencies"; micros: number[]; sent: number; closed: number }
  | { type: "counted"; received: number; open: number }
  | { type: "done" }
  | { type: "failed"; message: string };

const TAIL = "#PP:IIIIII:TTTTTTTTTTTTT".length;
/** Socket.IO: the event's name, then the text as a JSON string; it comes back in the same form. */
const SOCKETIO_EVENT_START = '42["m","';
const SOCKETIO_EVENT_END = '"]';
const BODY = "load test message, about as long as a line of chat ";
/** Handshakes in flight at once while connecting: more only trips the listen backlog. */
const CONNECTING_AT_ONCE = 256;

const encoder = new TextEncoder();

interface Client {
  index: number;
  /** Which of the endpoints (the server's instances) it is connected to. */
  instance: number;
  protocol: Protocol;
  socket: Socket<Client>;
  open: boolean;
  /** Bytes received but not yet a whole frame (or, before the upgrade, the response so far). */
  partial: Uint8Array | null;
  upgraded: boolean;
  /** Resolves the upgrade, or fails it. */
  settle: ((error?: string) => void) | null;
  /** Bytes the kernel did not take yet; sent on drain, in order. */
  unsent: Uint8Array[];
  /**
   * Frames to send in answer to the chunk being read, sent together once it is read: one write
   * (one system call) per chunk instead of one per message is what keeps the generator cheap.
   */
  replies: Uint8Array[];
}

const clients: Client[] = [];
let phase = 0;
/** What the current phase does with each load message it sees: set by flood/latency/probe. */
let onLoadMessage: (client: Client, sender: number, number: number, now: number) => void = () => {};
let closedDuringPhase = 0;

// --- Sending ------------------------------------------------------------------------------------

/**
 * A masked text frame from `client` holding BODY and the tail, with `number` (a due time or a
 * count) in it. A client must mask (RFC 6455 §5.3); a zero mask key is a valid key that leaves the
 * payload as it is, so frames are built without XORing.
 */
function loadFrame(client: Client, number: number): Uint8Array {
  const text = `${BODY}#${String(phase % 100).padStart(2, "0")}:${String(client.index).padStart(6, "0")}:${String(Math.floor(number)).padStart(13, "0")}`;
  return maskedFrame(
    0x1,
    encoder.encode(client.protocol === "socketio" ? `${SOCKETIO_EVENT_START}${text}${SOCKETIO_EVENT_END}` : text),
  );
}

function sendReplies(client: Client): void {
  const { replies } = client;
  if (replies.length === 0) return;
  write(client, replies.length === 1 ? replies[0]! : Buffer.concat(replies));
  replies.length = 0;
}

function write(client: Client, bytes: Uint8Array): void {
  if (!client.open) return;
  if (client.unsent.length > 0) return void client.unsent.push(bytes);
  const written = client.socket.write(bytes);
  if (written < bytes.length) client.unsent.push(bytes.subarray(Math.max(written, 0)));
}

function drain(client: Client): void {
  while (client.unsent.length > 0) {
    const bytes = client.unsent[0]!;
    const written = client.socket.write(bytes);
    if (written < bytes.length) {
      client.unsent[0] = bytes.subarray(Math.max(written, 0));
      return;
    }
    client.unsent.shift();
  }
}

// --- Receiving ----------------------------------------------------------------------------------

function receive(client: Client, chunk: Uint8Array): void {
  const now = performance.now();
  let bytes = chunk;
  if (client.partial) {
    const joined = new Uint8Array(client.partial.length + chunk.length);
    joined.set(client.partial);
    joined.set(chunk, client.partial.length);
    bytes = joined;
    client.partial = null;
  }
  let at = 0;
  if (!client.upgraded) {
    const end = indexOfBlankLine(bytes);
    if (end < 0) return void (client.partial = bytes);
    const head = new TextDecoder().decode(bytes.subarray(0, end));
    if (!head.startsWith("HTTP/1.1 101")) {
      client.settle?.(head.split("\r\n")[0] ?? "no answer");
      client.socket.end();
      return;
    }
    client.upgraded = true;
    if (client.protocol === "socketio") client.replies.push(maskedFrame(0x1, encoder.encode("40")));
    else client.settle?.();
    at = end + 4;
  }
  // Frames from a server are not masked (RFC 6455 §5.1).
  while (at + 2 <= bytes.length) {
    const opcode = bytes[at]! & 0x0f;
    let length = bytes[at + 1]! & 0x7f;
    let start = at + 2;
    if (length === 126) {
      if (start + 2 > bytes.length) break;
      length = (bytes[at + 2]! << 8) | bytes[at + 3]!;
      start += 2;
    } else if (length === 127) {
      if (start + 8 > bytes.length) break;
      length = Number(new DataView(bytes.buffer, bytes.byteOffset + at + 2, 8).getBigUint64(0));
      start += 8;
    }
    if (start + length > bytes.length) break;
    if (opcode === 0x1)
      client.protocol === "socketio"
        ? socketIoPacket(client, bytes, start, start + length, now)
        : text(client, bytes, start, start + length, now);
    else if (opcode === 0x9) client.replies.push(maskedFrame(0xa, bytes.slice(start, start + length)));
    else if (opcode === 0x8) client.socket.end();
    at = start + length;
  }
  if (at < bytes.length) client.partial = bytes.slice(at);
  sendReplies(client);
}

/**
 * An Engine.IO packet: a ping is answered (or the server drops the client after 45 s), the answer
 * to joining ("40") completes the connection, and an event ("42") holds a text like any other.
 */
function socketIoPacket(client: Client, bytes: Uint8Array, start: number, end: number, now: number): void {
  const kind = bytes[start]! - ZERO;
  if (kind === 2 && end === start + 1) return void client.replies.push(maskedFrame(0x1, encoder.encode("3")));
  if (kind === 4 && bytes[start + 1] === ZERO) return client.settle?.();
  if (kind === 4 && bytes[start + 1] === ZERO + 2) text(client, bytes, start, end - SOCKETIO_EVENT_END.length, now);
}

/** A text frame: if it ends in the tail of a load message of this phase, it is one delivered. */
function text(client: Client, bytes: Uint8Array, start: number, end: number, now: number): void {
  const tail = end - TAIL;
  if (tail < start || bytes[tail] !== HASH || bytes[tail + 3] !== COLON || bytes[tail + 10] !== COLON) return;
  if (digits(bytes, tail + 1, 2) !== phase % 100) return;
  const sender = digits(bytes, tail + 4, 6);
  const sentAt = digits(bytes, tail + 11, 13);
  if (sender < 0 || sentAt < 0) return;
  onLoadMessage(client, sender, sentAt, now);
}

// --- Connecting ---------------------------------------------------------------------------------

/**
 * Opens one client to `endpoint` and upgrades it to a WebSocket; a Socket.IO client then joins the
 * main namespace ("40") and is connected once the server answers.
 */
async function connectOne({ host, port, protocol }: Endpoint, instance: number): Promise<void> {
  const client: Client = {
    index: clients.length,
    instance,
    protocol,
    socket: null!,
    open: false,
    partial: null,
    upgraded: false,
    settle: null,
    unsent: [],
    replies: [],
  };
  const upgraded = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => client.settle?.("no answer to the upgrade in 10 s"), 10_000);
    client.settle = (error) => {
      clearTimeout(timer);
      client.settle = null;
      error ? reject(new Error(error)) : resolve();
    };
  });
  client.socket = await Bun.connect<Client>({
    hostname: host,
    port,
    data: client,
    socket: {
      open: (socket) => void (socket.data.open = true),
      data: (socket, chunk) => receive(socket.data, chunk),
      drain: (socket) => drain(socket.data),
      close: (socket) => {
        if (socket.data.open && socket.data.upgraded) closedDuringPhase++;
        socket.data.open = false;
        socket.data.settle?.("the server closed the connection");
      },
      error: (socket, error) => socket.data.settle?.(error.message),
    },
  });
  client.open = true;
  const key = Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("base64");
  const path = protocol === "socketio" ? "/socket.io/?EIO=4&transport=websocket" : "/";
  write(
    client,
    encoder.encode(
      `GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    ),
  );
  await upgraded;
  client.index = clients.length;
  clients.push(client);
}

/** Opens `count` clients, each to the next of `endpoints` in turn. */
async function connect({ endpoints, count }: Extract<Command, { type: "connect" }>): Promise<Reply> {
  let failed = 0;
  let firstError: string | undefined;
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const instance = next++ % endpoints.length;
      await connectOne(endpoints[instance]!, instance).catch((error: Error) => {
        failed++;
        firstError ??= error.message;
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONNECTING_AT_ONCE, count) }, worker));
  return { type: "connected", open: clients.filter((c) => c.open).length, failed, ...(firstError && { firstError }) };
}

// --- Phases -------------------------------------------------------------------------------------

function newPhase(): void {
  phase++;
  closedDuringPhase = 0;
  onLoadMessage = () => {};
}

/**
 * Saturation: `senders` clients (taken from each instance in turn) each keep `window` of their own
 * messages in flight, sending the next as soon as one comes back. Deliveries to every client are
 * counted from the end of the warm-up to the end of the measurement; then sending stops and the
 * rest drains, until every message has reached every client (a pause on a loaded machine is no
 * end). Every delivery, counted or not, is checked against the sender's count.
 */
async function flood({ senders, window, warmupMs, durationMs }: Extract<Command, { type: "flood" }>): Promise<Reply> {
  newPhase();
  let counting = false;
  let sending = true;
  let deliveries = 0;
  const sendingClients = sendersByInstance(senders);
  const check = new DeliveryChecker(clients.length, sendingClients);
  onLoadMessage = (client, sender, number) => {
    if (counting) deliveries++;
    check.received(client, sender, number);
    if (sender === client.index && sending) client.replies.push(loadFrame(client, check.next(client)));
  };
  for (const client of sendingClients) {
    for (let n = 0; n < window; n++) write(client, loadFrame(client, check.next(client)));
  }
  await Bun.sleep(warmupMs);
  counting = true;
  const countFrom = performance.now();
  await Bun.sleep(durationMs);
  counting = false;
  const seconds = (performance.now() - countFrom) / 1000;
  sending = false;
  await quiet(() => check.result().missing === 0);
  return { type: "flooded", deliveries, seconds, closed: closedDuringPhase, delivery: check.result() };
}

/** `count` clients, from each instance in turn, so that every instance has senders. */
function sendersByInstance(count: number): Client[] {
  const byInstance: Client[][] = [];
  for (const client of clients) (byInstance[client.instance] ??= []).push(client);
  const chosen: Client[] = [];
  for (let i = 0; chosen.length < Math.min(count, clients.length); i++) {
    for (const group of byInstance) if (group[i] && chosen.length < count) chosen.push(group[i]!);
  }
  return chosen;
}

/**
 * A fixed offered rate: `perSecond` deliveries a second in a room of `population` clients (all
 * generators together) is perSecond / population messages a second, sent by the clients in turn on
 * a fixed schedule. Latency is counted from the scheduled time, not from when the message actually
 * went out, so a stall of the generator shows as latency instead of hiding it (coordinated
 * omission). Every delivery to every client of this process is one sample.
 */
async function latency({ perSecond, population, durationMs }: Extract<Command, { type: "latency" }>): Promise<Reply> {
  newPhase();
  const samples: number[] = [];
  onLoadMessage = (_client, _sender, sentAt, now) => void samples.push(now * 1000 - sentAt);
  const messagesPerMs = perSecond / population / 1000;
  const start = performance.now();
  let sent = 0;
  let next = 0;
  while (performance.now() - start < durationMs) {
    // Message k is due at k / messagesPerMs: the first one at once.
    const due = Math.floor((performance.now() - start) * messagesPerMs) + 1;
    for (; sent < due; sent++) {
      const client = clients[next++ % clients.length]!;
      write(client, loadFrame(client, (start + sent / messagesPerMs) * 1000));
    }
    // Timers are good to about a millisecond, as long as the gap between messages: sleep until
    // just before the next one is due, then yield to I/O until it is.
    const wait = start + sent / messagesPerMs - performance.now();
    if (wait > 2) await Bun.sleep(wait - 1.5);
    else await new Promise((resolve) => setImmediate(resolve));
  }
  await quiet();
  return { type: "latencies", micros: samples, sent, closed: closedDuringPhase };
}

/**
 * Waits until what was sent has arrived: until `drained` says so, or 5 looks of 300 ms in a row
 * find nothing new (a flood's lost messages never arrive), or 30 s; without `drained`, one look.
 */
async function quiet(drained?: () => boolean): Promise<void> {
  let total = 0;
  const counter = onLoadMessage;
  onLoadMessage = (client, sender, sentAt, now) => {
    total++;
    counter(client, sender, sentAt, now);
  };
  const enough = drained ? 5 : 1;
  for (let waited = 0, still = 0; waited < 30_000 && still < enough && !drained?.(); waited += 300) {
    const last = total;
    await Bun.sleep(300);
    still = total === last ? still + 1 : 0;
  }
}

/** Capacity: one message, from one client of one generator, to be counted by every client of all. */
let probeReceived = 0;
function expect(probe: number): Reply {
  newPhase();
  phase = probe;
  probeReceived = 0;
  onLoadMessage = () => void probeReceived++;
  return { type: "done" };
}

// --- Steering -----------------------------------------------------------------------------------

async function perform(command: Command): Promise<Reply> {
  switch (command.type) {
    case "connect":
      return connect(command);
    case "flood":
      return flood(command);
    case "latency":
      return latency(command);
    case "expect":
      return expect(command.probe);
    case "probe": {
      const client = clients.find((c) => c.open);
      if (!client) return { type: "failed", message: "no open connection to send the probe from" };
      write(client, loadFrame(client, performance.now() * 1000));
      return { type: "done" };
    }
    case "count":
      return { type: "counted", received: probeReceived, open: clients.filter((c) => c.open).length };
  }
}

process.on("message", (command: Command) => {
  perform(command).then(
    (reply) => process.send!(reply),
    (error: Error) => process.send!({ type: "failed", message: error.message } satisfies Reply),
  );
});
process.on("disconnect", () => process.exit(0));
