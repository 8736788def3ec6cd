/**
 * The broadcast chat server: whatever one client sends is published to every connected client,
 * the sender included, tagged with the sender's address as this server saw it
 * (`127.0.0.1:54321: hello`).
 *
 * Wire format: plain text, one chat message per WebSocket text frame, both ways, so any WebSocket
 * client (wscat, a browser's `new WebSocket`, Python `websockets`) can take part.
 */
import type { Server, SocketAddress } from "bun";
import { commandName, formatHelp, otherProgram, parseCommandLine, parsePort, runMain, UsageError } from "./cli";
import pkg from "./package.json";

const OPTIONS = [
  { flag: "host", value: "HOST", env: "HOST", default: "127.0.0.1", help: "address to listen on; :: or 0.0.0.0 for every interface" },
  { flag: "port", short: "p", value: "PORT", env: "PORT", default: "2000", help: "port to listen on; 0 picks a free one" },
  { flag: "quiet", short: "q", help: "do not log each message (connections are still logged)" },
  { flag: "help", short: "h", help: "show this help and exit" },
  { flag: "version", short: "v", help: "show the version and exit" },
] as const;

/** Every socket subscribes to this topic; a broadcast is one publish to it. */
const TOPIC = "chat";

/** What the server keeps about each connection. */
interface Connection {
  /** `ip:port` as seen at upgrade; set by the server, never taken from the client. */
  tag: string;
}

async function main(): Promise<void> {
  // 1. Options: flags, then environment, then defaults.
  const { values: options } = parseCommandLine(OPTIONS, process.argv.slice(2));
  if (options.help) {
    const name = commandName("server.ts");
    process.stdout.write(
      formatHelp(
        [`${name} [options]`],
        "Broadcast chat server: every text message a client sends is sent to all connected\nclients, the sender included, as '<sender ip:port>: <message>'.",
        OPTIONS,
      ),
    );
    return;
  }
  if (options.version) {
    process.stdout.write(`${pkg.version}\n`);
    return;
  }
  const host = options.host;
  const port = parsePort(options.port, "The port");
  if (host === "" || /\s/.test(host)) throw new UsageError(`The host must be an address such as 127.0.0.1 or ::1, not '${host}'.`);

  // 2. Listen, or say in one line why we cannot.
  const server = listen(host, port, options.quiet);
  const url = `ws://${hostInUrl(host)}:${server.port}`;
  log(`Listening on ${url}`);
  log(`Connect a client with: ${otherProgram("client")} ${url}`);

  // 3. Stop cleanly on Ctrl-C or a service manager's SIGTERM.
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      log(`Shutting down (${signal})`);
      server.stop(true);
      flushLog();
      process.exit(0);
    });
  }
}

function listen(host: string, port: number, quiet: boolean): Server<Connection> {
  try {
    const server: Server<Connection> = Bun.serve<Connection>({
      hostname: host,
      port,
      fetch(request, server) {
        const address = server.requestIP(request);
        const tag = address ? formatAddress(address) : "unknown";
        if (request.headers.get("upgrade")?.toLowerCase() === "websocket") {
          if (server.upgrade(request, { data: { tag } })) return;
          return new Response("Bad WebSocket handshake.\n", { status: 400 });
        }
        // RFC 7231 §6.5.15: 426 tells an HTTP client which protocol this endpoint speaks.
        return new Response(
          `This is a WebSocket chat server.\nConnect with a WebSocket client, for example:\n  ${otherProgram("client")} ws://${request.headers.get("host") ?? `${host}:${port}`}\n`,
          { status: 426, headers: { Upgrade: "websocket", "Content-Type": "text/plain; charset=utf-8" } },
        );
      },
      websocket: {
        open(ws) {
          ws.subscribe(TOPIC);
          log(`New connection from ${ws.data.tag}`);
        },
        message(ws, message) {
          if (typeof message !== "string") {
            // RFC 6455 §7.4.1: 1003 is for a data type the endpoint cannot accept.
            ws.close(1003, "binary frames are not chat: send text");
            return;
          }
          // server.publish, unlike ws.publish, includes the sender, so it sees its own message come
          // back. The frame is encoded once for all subscribers. The result is not checked here:
          // 0 (dropped) and -1 (backpressure) are per-recipient conditions that Bun's limits handle.
          server.publish(TOPIC, `${ws.data.tag}: ${message}`);
          if (!quiet) log(`Message from ${ws.data.tag}: ${printable(message)}`);
        },
        close(ws, code, reason) {
          log(`Connection from ${ws.data.tag} closed (${code}${reason ? ` ${printable(reason)}` : ""})`);
        },
      },
    });
    return server;
  } catch (error) {
    const where = `${hostInUrl(host)}:${port}`;
    process.stderr.write(`${commandName("server.ts")}: ${describeListenError(error, where)}\n`);
    process.exit(1);
  }
}

function describeListenError(error: unknown, where: string): string {
  switch ((error as { code?: string }).code) {
    case "EADDRINUSE":
      return `Could not listen on ${where}: the port is already in use. Stop the other server or pick another port with --port.`;
    case "EADDRNOTAVAIL":
      return `Could not listen on ${where}: this machine has no such address. Use one of its own addresses, e.g. --host 127.0.0.1.`;
    case "EACCES":
      return `Could not listen on ${where}: permission denied. Ports below 1024 need privileges; pick a higher one with --port.`;
    case "ENOTFOUND":
      return `Could not listen on ${where}: the host name does not resolve. Use an address such as 127.0.0.1.`;
    default:
      return `Could not listen on ${where}: ${error instanceof Error ? error.message : String(error)}.`;
  }
}

/** An IPv6 address goes in brackets wherever a port follows it (RFC 3986 §3.2.2). */
function hostInUrl(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}

/** `127.0.0.1:54321`, `[::1]:54321`; an IPv4-mapped IPv6 address shows as the IPv4 it is. */
function formatAddress({ address, port }: SocketAddress): string {
  const ip = address.startsWith("::ffff:") && address.includes(".") ? address.slice(7) : address;
  return `${hostInUrl(ip)}:${port}`;
}

/** Control characters would let a client drive the operator's terminal; show them escaped. */
function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => (c === "\n" ? "\\n" : `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`));
}

// The console log. Lines are gathered and written once per event-loop turn: a write per message
// would cost more than the broadcast itself. A console nobody reads (a full pipe) must not make the
// server hold unbounded memory, so past a bound lines are counted instead of kept.
const LOG_BUFFER_LIMIT = 1 << 20;
let pendingLog = "";
let droppedLogLines = 0;

function log(line: string): void {
  if (pendingLog.length > LOG_BUFFER_LIMIT || process.stdout.writableLength > LOG_BUFFER_LIMIT) {
    droppedLogLines++;
    return;
  }
  if (pendingLog === "") setImmediate(flushLog);
  pendingLog += `${line}\n`;
}

function flushLog(): void {
  if (droppedLogLines > 0) {
    pendingLog += `(${droppedLogLines} log lines dropped: the console could not keep up)\n`;
    droppedLogLines = 0;
  }
  if (pendingLog !== "") process.stdout.write(pendingLog);
  pendingLog = "";
}

await runMain("server.ts", main);
