/**
 * WebSocket clients for the tests, over real sockets: TestSocket records what it receives; wsFrame
 * and RawSocket make frames and handshakes by hand, for what a well-behaved library never sends;
 * CuttableLink sits in front of a server to cut the network under a client.
 */
import type { Socket, TCPSocketListener } from "bun";
import { SUBPROTOCOL } from "../common/events";
import { waitFor } from "../tools/processes";

/**
 * An event as it came over the wire, unchecked: an end-to-end test asserts its shape (toEqual,
 * toMatchObject) rather than trusting the decoder it is testing.
 */
// biome-ignore lint/suspicious/noExplicitAny: what the server sent is whatever it sent; tests assert its shape
export type WireEvent = Record<string, any>;

/** A WebSocket client for tests that records every message it receives. */
export class TestSocket {
  readonly messages: string[] = [];
  closed: CloseEvent | undefined;
  private constructor(readonly socket: WebSocket) {
    socket.addEventListener("message", ({ data }) => this.messages.push(String(data)));
    socket.addEventListener("close", (event) => (this.closed = event));
  }

  /** Opens `url`, asking for `protocol` (e.g. chat.v1.json) if given, with extra `headers` (Bun's extension). */
  static open(
    url: string,
    protocol?: string,
    timeoutMs = 5_000,
    headers?: Record<string, string>,
  ): Promise<TestSocket> {
    const options = { ...(protocol && { protocols: protocol }), ...(headers && { headers }) };
    const socket = headers
      ? new WebSocket(url, options as unknown as string)
      : protocol
        ? new WebSocket(url, protocol)
        : new WebSocket(url);
    const client = new TestSocket(socket);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`could not open ${url} in ${timeoutMs} ms`)), timeoutMs);
      socket.addEventListener(
        "open",
        () => {
          clearTimeout(timer);
          resolve(client);
        },
        { once: true },
      );
      socket.addEventListener(
        "error",
        (e) => {
          clearTimeout(timer);
          reject(new Error(`could not open ${url}: ${(e as ErrorEvent).message}`));
        },
        { once: true },
      );
    });
  }

  send(text: string | Uint8Array): void {
    this.socket.send(text);
  }

  /** What the server said itself in plain text (notices, replies, errors) starts with `*** `. */
  get chat(): string[] {
    return this.messages.filter((m) => !m.startsWith("*** "));
  }

  /** Waits until at least `count` chat lines (not notices) have arrived; returns them. */
  waitForChat(count: number, timeoutMs = 5_000): Promise<string[]> {
    return waitFor(
      () => `${count} chat lines (have ${this.chat.length}: ${JSON.stringify(this.messages.slice(-3))})`,
      () => (this.chat.length >= count ? this.chat : undefined),
      timeoutMs,
    );
  }

  /**
   * The messages parsed as JSON, for a client of chat.v1.json: whatever the server sent, unchecked,
   * since these tests are about what is on the wire (the unit tests' fake socket gives typed events).
   */
  get events(): WireEvent[] {
    return this.messages.map((m) => JSON.parse(m));
  }

  /** Waits until a message satisfies `check`; returns it. */
  waitForMessage(what: string, check: (message: string) => boolean, timeoutMs = 5_000): Promise<string> {
    return waitFor(what, () => this.messages.find(check), timeoutMs);
  }

  /** Waits until an event (JSON) satisfies `check`; returns it. */
  waitForEvent(what: string, check: (event: WireEvent) => boolean, timeoutMs = 5_000): Promise<WireEvent> {
    return waitFor(what, () => this.events.find(check), timeoutMs);
  }

  /** Waits until at least `count` messages have arrived; returns all of them. */
  waitForMessages(count: number, timeoutMs = 5_000): Promise<string[]> {
    return waitFor(
      () => `${count} messages (have ${this.messages.length}: ${JSON.stringify(this.messages.slice(-3))})`,
      () => (this.messages.length >= count ? this.messages : undefined),
      timeoutMs,
    );
  }

  waitForClose(timeoutMs = 5_000): Promise<CloseEvent> {
    return waitFor("the socket to close", () => this.closed, timeoutMs);
  }

  close(): void {
    this.socket.close(1000);
  }
}

/** Sends a marker and waits for it: whatever the server sent `to` before the marker has arrived. */
export async function settle(from: TestSocket, ...to: TestSocket[]): Promise<void> {
  const marker = `marker ${Math.random()}`;
  from.send(from.socket.protocol === SUBPROTOCOL ? JSON.stringify({ type: "say", text: marker }) : marker);
  for (const socket of [from, ...to])
    await socket.waitForMessage(`the marker at ${socket === from ? "the sender" : "a watcher"}`, (m) =>
      m.includes(marker),
    );
}

/** A JSON client and the address the server gave it. */
export async function jsonClient(
  server: { url: string },
  query = "",
): Promise<{ socket: TestSocket; address: string }> {
  const socket = await TestSocket.open(`${server.url}/${query}`, SUBPROTOCOL);
  const welcome = await socket.waitForEvent("the welcome", (e) => e.type === "welcome");
  return { socket, address: welcome.you.address };
}

/** Registers `name` with `password` through a JSON connection of its own, which then leaves. */
export async function registerName(server: { url: string }, name: string, password: string): Promise<void> {
  const { socket } = await jsonClient(server, `?name=${name}`);
  socket.send(JSON.stringify({ type: "register", password }));
  await socket.waitForEvent(`${name} registered`, (e) => e.type === "account" && e.name === name);
  socket.close();
}

/** One WebSocket frame, built by hand (RFC 6455 §5.2), masked as a client's must be. */
export function wsFrame(
  opcode: number,
  payload: Uint8Array | string,
  { fin = true, mask = true, declaredLength }: { fin?: boolean; mask?: boolean; declaredLength?: bigint } = {},
): Uint8Array {
  const body = typeof payload === "string" ? new TextEncoder().encode(payload) : payload;
  const length = declaredLength ?? BigInt(body.length);
  const header: number[] = [(fin ? 0x80 : 0) | opcode];
  const maskBit = mask ? 0x80 : 0;
  if (length < 126n) header.push(maskBit | Number(length));
  else if (length < 65536n) header.push(maskBit | 126, Number(length >> 8n) & 0xff, Number(length) & 0xff);
  else {
    header.push(maskBit | 127);
    for (let shift = 56n; shift >= 0n; shift -= 8n) header.push(Number((length >> shift) & 0xffn));
  }
  const key = [0x12, 0x34, 0x56, 0x78];
  if (mask) header.push(...key);
  const masked = body.map((byte, i) => (mask ? byte ^ key[i % 4]! : byte));
  return new Uint8Array([...header, ...masked]);
}

/**
 * A WebSocket client made by hand over a TCP socket, for what a well-behaved client library never
 * does: malformed frames, or going silent without closing.
 */
export class RawSocket {
  received = Buffer.alloc(0);
  closed = false;
  private constructor(private readonly socket: Awaited<ReturnType<typeof Bun.connect>>) {}

  static async open(port: number, path = "/"): Promise<RawSocket> {
    let raw!: RawSocket;
    const socket = await Bun.connect({
      hostname: "127.0.0.1",
      port,
      socket: {
        data: (_socket, data) => void (raw.received = Buffer.concat([raw.received, data])),
        close: () => void (raw.closed = true),
        error: () => void (raw.closed = true),
      },
    });
    raw = new RawSocket(socket);
    socket.write(
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    await waitFor("the handshake", () => (raw.received.includes("\r\n\r\n") ? true : undefined));
    if (!raw.received.toString().startsWith("HTTP/1.1 101"))
      throw new Error(`handshake refused: ${raw.received.toString()}`);
    return raw;
  }

  write(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /** Stops the socket without a close frame, as a crashed peer would. */
  destroy(): void {
    this.socket.terminate();
  }
}

/** One client connection through the proxy and its connection to the server. */
interface ProxiedPair {
  client: Socket<ProxiedPair>;
  upstream: Socket<undefined> | undefined;
  /** What the client sent before the connection to the server was up. */
  pending: Uint8Array[];
}

/**
 * A TCP proxy in front of a server, to cut the network under a client: `cut()` drops every
 * connection through it and refuses new ones until `restore()`.
 */
export class CuttableLink {
  readonly port: number;
  private down = false;
  private readonly pairs = new Set<ProxiedPair>();
  private readonly listener: TCPSocketListener<ProxiedPair>;

  constructor(targetPort: number) {
    this.listener = Bun.listen<ProxiedPair>({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        open: (client) => {
          if (this.down) return void client.end();
          const pair: ProxiedPair = { client, upstream: undefined, pending: [] };
          client.data = pair;
          this.pairs.add(pair);
          Bun.connect({
            hostname: "127.0.0.1",
            port: targetPort,
            socket: {
              open: (upstream) => {
                pair.upstream = upstream;
                for (const chunk of pair.pending.splice(0)) upstream.write(chunk);
              },
              data: (_upstream, data) => void client.write(data),
              close: () => void client.end(),
              error: () => void client.end(),
            },
          }).catch(() => client.end());
        },
        data: (client, data) => {
          if (client.data.upstream) client.data.upstream.write(data);
          else client.data.pending.push(new Uint8Array(data));
        },
        close: (client) => {
          client.data?.upstream?.end();
          if (client.data) this.pairs.delete(client.data);
        },
      },
    });
    this.port = this.listener.port;
  }

  cut(): void {
    this.down = true;
    for (const pair of this.pairs) {
      pair.client.end();
      pair.upstream?.end();
    }
    this.pairs.clear();
  }

  restore(): void {
    this.down = false;
  }

  stop(): void {
    this.cut();
    this.listener.stop(true);
  }
}
