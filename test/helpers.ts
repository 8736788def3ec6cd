/**
 * What the tests share: the real server and client started as processes on free ports, test
 * WebSocket clients over real sockets, and a real terminal (tmux) to drive the interactive client.
 * Every wait is bounded in time; every process started here is stopped by its pid.
 */
import type { Socket, Subprocess, TCPSocketListener } from "bun";
import { Database } from "bun:sqlite";
import { readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SUBPROTOCOL } from "../common/events";

export const ROOT = join(import.meta.dir, "..");
/** The Bun running the tests runs the programs too. */
export const BUN = process.execPath;

/** Waits until `check` returns a value other than undefined, polling; fails after `timeoutMs`. */
export async function waitFor<T>(what: string | (() => string), check: () => T | undefined, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${typeof what === "string" ? what : what()}`);
    await Bun.sleep(20);
  }
}

/** Reads a process's stream into a growing string, so tests can look at it while it runs. */
function collect(stream: ReadableStream<Uint8Array>): { text: string; done: Promise<void> } {
  const sink = { text: "", done: Promise.resolve() };
  const decoder = new TextDecoder();
  sink.done = (async () => {
    for await (const chunk of stream) sink.text += decoder.decode(chunk, { stream: true });
  })();
  return sink;
}

export interface RunningServer {
  process: Subprocess<"ignore", "pipe", "pipe">;
  port: number;
  url: string;
  /** Everything the server has printed on stdout so far. */
  log(): string;
  stderr(): string;
  /** Waits for a line matching `pattern` in the log; returns its match. */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  stop(): Promise<void>;
}

/**
 * Starts `bun server.ts --port 0 ...args` (or another command) and waits for its URL. With PORT in
 * `env`, the port comes from there instead of the flag.
 */
export async function startServer(
  args: string[] = [],
  { command = [BUN, join(ROOT, "server.ts")], env = {}, cwd = ROOT }: { command?: string[]; env?: Record<string, string>; cwd?: string } = {},
): Promise<RunningServer> {
  const portArgs = "PORT" in env ? [] : ["--port", "0"];
  const proc = Bun.spawn([...command, ...portArgs, ...args], { cwd, env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const stdout = collect(proc.stdout);
  const stderr = collect(proc.stderr);
  const server: RunningServer = {
    process: proc,
    port: 0,
    url: "",
    log: () => stdout.text,
    stderr: () => stderr.text,
    waitForLog: (pattern, timeoutMs) =>
      waitFor(`server log line ${pattern}`, () => stdout.text.match(pattern) ?? undefined, timeoutMs),
    async stop() {
      proc.kill("SIGKILL");
      await proc.exited;
    },
  };
  try {
    const [, url, port] = await waitFor(
      "the server to listen",
      () => {
        if (proc.exitCode !== null) throw new Error(`server exited ${proc.exitCode}: ${stderr.text}`);
        return stdout.text.match(/Listening on (wss?:\/\/\S+:(\d+))\n/) ?? undefined;
      },
      10_000,
    );
    server.url = url!;
    server.port = Number(port);
  } catch (error) {
    await server.stop();
    throw error;
  }
  return server;
}

/** A client process in pipe mode whose stdin stays open; its output is collected as it comes. */
export function pipeClient(args: string[], command = [BUN, join(ROOT, "client.ts")]) {
  const proc = Bun.spawn([...command, ...args], { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
  const out = { stdout: "", stderr: "" };
  const decoder = () => new TextDecoder();
  void (async () => {
    const d = decoder();
    for await (const chunk of proc.stdout) out.stdout += d.decode(chunk, { stream: true });
  })();
  void (async () => {
    const d = decoder();
    for await (const chunk of proc.stderr) out.stderr += d.decode(chunk, { stream: true });
  })();
  return {
    proc,
    out,
    write: (line: string) => proc.stdin.write(`${line}\n`),
    waitForOutput: (what: string, check: (stdout: string) => boolean, timeoutMs = 8_000) =>
      waitFor(() => `${what}; stdout so far: ${out.stdout}; stderr: ${out.stderr}`, () => (check(out.stdout) ? true : undefined), timeoutMs),
    waitForStderr: (what: string, check: (stderr: string) => boolean, timeoutMs = 8_000) =>
      waitFor(() => `${what}; stderr so far: ${out.stderr}`, () => (check(out.stderr) ? true : undefined), timeoutMs),
  };
}

/** A WebSocket client for tests that records every message it receives. */
export class TestSocket {
  readonly messages: string[] = [];
  closed: CloseEvent | undefined;
  private constructor(readonly socket: WebSocket) {
    socket.addEventListener("message", ({ data }) => this.messages.push(String(data)));
    socket.addEventListener("close", (event) => (this.closed = event));
  }

  /** Opens `url`, asking for `protocol` (e.g. chat.v1.json) if given. */
  static open(url: string, protocol?: string, timeoutMs = 5_000): Promise<TestSocket> {
    const socket = protocol ? new WebSocket(url, protocol) : new WebSocket(url);
    const client = new TestSocket(socket);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`could not open ${url} in ${timeoutMs} ms`)), timeoutMs);
      socket.addEventListener("open", () => (clearTimeout(timer), resolve(client)), { once: true });
      socket.addEventListener("error", (e) => (clearTimeout(timer), reject(new Error(`could not open ${url}: ${(e as ErrorEvent).message}`))), { once: true });
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
    return waitFor(() => `${count} chat lines (have ${this.chat.length}: ${JSON.stringify(this.messages.slice(-3))})`, () => (this.chat.length >= count ? this.chat : undefined), timeoutMs);
  }

  /** The messages parsed as JSON, for a client of chat.v1.json. */
  get events(): Record<string, any>[] {
    return this.messages.map((m) => JSON.parse(m));
  }

  /** Waits until a message satisfies `check`; returns it. */
  waitForMessage(what: string, check: (message: string) => boolean, timeoutMs = 5_000): Promise<string> {
    return waitFor(what, () => this.messages.find(check), timeoutMs);
  }

  /** Waits until an event (JSON) satisfies `check`; returns it. */
  waitForEvent(what: string, check: (event: Record<string, any>) => boolean, timeoutMs = 5_000): Promise<Record<string, any>> {
    return waitFor(what, () => this.events.find(check), timeoutMs);
  }

  /** Waits until at least `count` messages have arrived; returns all of them. */
  waitForMessages(count: number, timeoutMs = 5_000): Promise<string[]> {
    return waitFor(() => `${count} messages (have ${this.messages.length}: ${JSON.stringify(this.messages.slice(-3))})`, () => (this.messages.length >= count ? this.messages : undefined), timeoutMs);
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
  for (const socket of [from, ...to]) await socket.waitForMessage(`the marker at ${socket === from ? "the sender" : "a watcher"}`, (m) => m.includes(marker));
}

/** A JSON client and the address the server gave it. */
export async function jsonClient(server: RunningServer, query = ""): Promise<{ socket: TestSocket; address: string }> {
  const socket = await TestSocket.open(`${server.url}/${query}`, SUBPROTOCOL);
  const welcome = await socket.waitForEvent("the welcome", (e) => e.type === "welcome");
  return { socket, address: welcome.you.address };
}

export interface Finished {
  exitCode: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion with `input` on stdin; kills it if it outlives `timeoutMs`. */
export async function run(command: string[], { input = "", cwd = ROOT, timeoutMs = 15_000, env }: { input?: string; cwd?: string; timeoutMs?: number; env?: Record<string, string> } = {}): Promise<Finished> {
  const proc = Bun.spawn(command, { cwd, stdin: new TextEncoder().encode(input), stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env } });
  const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
  const [stdout, stderr, exitCode] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  clearTimeout(timer);
  return { exitCode, stdout, stderr };
}

/**
 * Waits until the server's --store file holds a message with `text`: the store writes in batches
 * (every 50 ms), and a test about to SIGKILL the server must not kill it before the write.
 */
export function waitForStored(store: string, text: string, timeoutMs = 5_000): Promise<true> {
  return waitFor(`'${text}' written to ${store}`, () => {
    let db: Database | undefined;
    try {
      db = new Database(store, { readonly: true });
      return db.query("SELECT 1 FROM events WHERE text = ?").get(text) ? true : undefined;
    } catch {
      return undefined; // Not created yet, or busy: asked again.
    } finally {
      db?.close();
    }
  }, timeoutMs);
}

/** A TCP port on 127.0.0.1 that nothing listens on (it was free a moment ago). */
export function unusedPort(): number {
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = listener.port;
  listener.stop(true);
  return port;
}

/**
 * A real terminal: a tmux server of its own (its own socket), one window running `command`.
 * The command runs under `sh`, which writes its exit status to a file: tmux's own record of it
 * (#{pane_dead_status}) proved unreliable here, leaving the finished program a zombie now and then.
 */
export class Terminal {
  private readonly socketName = `chat-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  private readonly statusFile = join(tmpdir(), `${this.socketName}.status`);
  private pids: number[] = [];

  async start(command: string[], { columns = 80, rows = 24, cwd = ROOT } = {}): Promise<void> {
    const quote = (part: string) => `'${part.replaceAll("'", "'\\''")}'`;
    const shellCommand = `${command.map(quote).join(" ")}; echo $? > ${quote(this.statusFile)}`;
    await this.tmux("new-session", "-d", "-x", String(columns), "-y", String(rows), "-c", cwd, shellCommand, ";", "set-option", "remain-on-exit", "on");
    const [serverPid, shellPid] = (await this.tmux("display-message", "-p", "#{pid} #{pane_pid}")).trim().split(" ");
    // The shell leads the window's process group, which holds the program too: -pid stops both.
    this.pids = [-Number(shellPid), Number(serverPid)];
  }

  /** Types text literally, as a person would. */
  type(text: string): Promise<string> {
    return this.tmux("send-keys", "-l", text);
  }

  /** Presses keys by tmux name: Enter, Left, C-c, ... */
  press(...keys: string[]): Promise<string> {
    return this.tmux("send-keys", ...keys);
  }

  /** The visible screen as plain text (with `colours`, with its escape sequences), trailing blank lines removed. */
  async screen({ colours = false } = {}): Promise<string> {
    const text = await this.tmux("capture-pane", "-p", ...(colours ? ["-e"] : []));
    // tmux notes a finished program on the last line ("Pane is dead ..."); that is not the program's.
    return text.replace(/\nPane is dead \(.*\)\s*$/, "").trimEnd();
  }

  /** Waits until the screen satisfies `check`; returns the screen. */
  async waitForScreen(what: string, check: (screen: string) => boolean, timeoutMs = 8_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const screen = await this.screen();
      if (check(screen)) return screen;
      if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}; the screen shows:\n${screen}`);
      await Bun.sleep(50);
    }
  }

  /** Waits for the command in the window to exit; returns its exit status. */
  async waitForExit(timeoutMs = 8_000): Promise<number> {
    const status = await waitFor("the program to exit", () => {
      try {
        const text = readFileSync(this.statusFile, "utf8");
        return text.endsWith("\n") ? Number(text) : undefined;
      } catch {
        return undefined;
      }
    }, timeoutMs).catch(async (error: Error) => {
      throw new Error(`${error.message}; the screen shows:\n${await this.screen()}`);
    });
    return status;
  }

  /** Stops the program and the tmux server by their pids. */
  stop(): void {
    rmSync(this.statusFile, { force: true });
    for (const pid of this.pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
    this.pids = [];
  }

  private async tmux(...args: string[]): Promise<string> {
    const result = await run(["tmux", "-L", this.socketName, "-f", "/dev/null", ...args], { timeoutMs: 5_000 });
    if (result.exitCode !== 0) throw new Error(`tmux ${args[0]} failed: ${result.stderr.trim()}`);
    return result.stdout;
  }
}

/** One WebSocket frame, built by hand (RFC 6455 §5.2), masked as a client's must be. */
export function wsFrame(opcode: number, payload: Uint8Array | string, { fin = true, mask = true, declaredLength }: { fin?: boolean; mask?: boolean; declaredLength?: bigint } = {}): Uint8Array {
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
    socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    await waitFor("the handshake", () => (raw.received.includes("\r\n\r\n") ? true : undefined));
    if (!raw.received.toString().startsWith("HTTP/1.1 101")) throw new Error(`handshake refused: ${raw.received.toString()}`);
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
export class Proxy {
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
