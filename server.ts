/**
 * The chat server's entry point: its options, starting it, and stopping it on a signal. The server
 * itself is in server/ (app.ts puts it together; chat.ts is the chat); what it shares with the
 * client is in common/.
 *
 * Whatever one client says is published to everyone in its room, the sender included, tagged with
 * the sender's name (if any) and address as this server saw it (`alice (127.0.0.1:54321): hello`,
 * or `127.0.0.1:54321: hello` without a name). Clients that ask for no subprotocol speak plain
 * text, one message per frame; clients that ask for `chat.v1.json` get JSON events.
 */
import { X509Certificate } from "node:crypto";
import { commandName, formatHelp, otherProgram, parseCommandLine, runMain, withHelpOf } from "./common/cli";
import { SUBPROTOCOL } from "./common/events";
import pkg from "./package.json";
import { accountsCommand } from "./server/accounts/cli";
import { runKeysCommand } from "./server/api/keys-command";
import { startChatServer } from "./server/app";
import { readConfig } from "./server/config";

const OPTIONS = [
  {
    flag: "host",
    value: "HOST",
    env: "HOST",
    default: "127.0.0.1",
    help: "address to listen on; :: or 0.0.0.0 for every interface",
  },
  {
    flag: "port",
    short: "p",
    value: "PORT",
    env: "PORT",
    default: "2000",
    help: "port to listen on; 0 picks a free one",
  },
  {
    flag: "history",
    value: "N",
    default: "50",
    help: "messages per room replayed to who enters it; 0 turns history off",
  },
  {
    flag: "store",
    value: "FILE",
    help: "keep history and accounts in this SQLite file, so they survive a restart (default: in memory)",
  },
  {
    flag: "store-keep",
    value: "N",
    default: "10000",
    help: "messages per room kept in the --store file; older ones are deleted",
  },
  {
    flag: "store-days",
    value: "DAYS",
    default: "30",
    help: "days messages are kept in the --store file; 0 keeps them for good",
  },
  {
    flag: "store-bytes",
    value: "BYTES",
    default: "1073741824",
    help: "most the --store file holds of messages; past it the oldest go first",
  },
  { flag: "max-message", value: "BYTES", default: "65536", help: "longest message; a longer one is refused" },
  {
    flag: "max-frame",
    value: "BYTES",
    default: "1048576",
    help: "largest WebSocket frame; a larger one closes the connection (1009)",
  },
  {
    flag: "rate",
    value: "N",
    default: "5",
    help: "messages a second one connection may send on average; 0 for no limit",
  },
  { flag: "burst", value: "N", default: "20", help: "messages one connection may send at once before --rate applies" },
  {
    flag: "max-clients",
    value: "N",
    default: "1000",
    help: "connections in all; when full, the address holding the most gives one up to an address holding fewer, others get 503",
  },
  {
    flag: "max-per-ip",
    value: "N",
    default: "50",
    help: "connections open from one address (prefix); more are answered 429",
  },
  {
    flag: "ip-rate",
    value: "N",
    default: "20",
    help: "messages a second from one address, all its connections together; 0 for no limit",
  },
  {
    flag: "ip-changes",
    value: "N",
    default: "2",
    help: "renames and room changes a second from one address; 0 for no limit",
  },
  {
    flag: "ip-connect-rate",
    value: "N",
    default: "2",
    help: "new connections a second from one address (bursts of 15 times that); 0 for no limit",
  },
  {
    flag: "ip-replay",
    value: "BYTES",
    default: "1048576",
    help: "bytes of history a second replayed to one address; 0 for no limit",
  },
  {
    flag: "ipv4-prefix",
    value: "BITS",
    default: "32",
    help: "IPv4 addresses sharing this many leading bits count as one address",
  },
  {
    flag: "ipv6-prefix",
    value: "BITS",
    default: "64",
    help: "IPv6 addresses sharing this many leading bits count as one address",
  },
  {
    flag: "max-backlog",
    value: "BYTES",
    default: "8388608",
    help: "unsent bytes a slow reader may have waiting before it is cut off",
  },
  {
    flag: "max-unsent",
    value: "BYTES",
    default: "268435456",
    help: "memory the backlogs of all readers take together (twice their bytes); past it the biggest are cut off",
  },
  {
    flag: "stall-timeout",
    value: "SECONDS",
    default: "30",
    help: "cut off a reader that has taken nothing of its backlog this long",
  },
  {
    flag: "max-rooms",
    value: "N",
    default: "10000",
    help: "rooms with people in them; joining a new one past this is refused",
  },
  {
    flag: "history-bytes",
    value: "BYTES",
    default: "67108864",
    help: "memory for history in all rooms; the least recently used rooms' is let go first",
  },
  {
    flag: "announce-limit",
    value: "N",
    default: "100",
    help: "announce joins and leaves only in rooms of up to N people; bigger rooms would drown in them",
  },
  {
    flag: "name-grace",
    value: "SECONDS",
    default: "60",
    help: "hold a departed person's name this long, for them alone to come back to",
  },
  {
    flag: "idle-timeout",
    value: "SECONDS",
    default: "60",
    help: "close a connection silent this long; pings keep live ones alive",
  },
  {
    flag: "allow-origin",
    value: "ORIGINS",
    help: "web origins allowed besides the server's own, comma-separated; * for any",
  },
  {
    flag: "trust-proxy",
    value: "NETWORKS",
    help: "reverse proxies (e.g. 127.0.0.1,10.0.0.0/8) whose --proxy-header names the client",
  },
  {
    flag: "proxy-header",
    value: "HEADER",
    default: "x-forwarded-for",
    help: "the one header the proxy writes: x-forwarded-for or forwarded (RFC 7239); the other is ignored",
  },
  {
    flag: "token",
    value: "TOKEN",
    env: "CHAT_TOKEN",
    help: "a shared secret clients must present (Authorization: Bearer; the page asks for it)",
  },
  { flag: "public-status", help: "answer /healthz and /metrics without the token (for a load balancer's checks)" },
  { flag: "tls-cert", value: "FILE", help: "serve wss:// with this certificate (PEM); needs --tls-key" },
  { flag: "tls-key", value: "FILE", help: "the certificate's private key (PEM)" },
  {
    flag: "redis",
    value: "URL",
    env: "REDIS_URL",
    help: "share the chat with other instances through this Redis, e.g. redis://127.0.0.1:6379",
  },
  {
    flag: "ops",
    value: "NAMES",
    help: "operators of the whole chat: registered names, comma-separated (one not registered yet is, once it is)",
  },
  { flag: "reuse-port", help: "let several instances listen on one port (SO_REUSEPORT), to use every core" },
  {
    flag: "guests",
    value: "yes|no",
    default: "yes",
    help: "no: only people logged in to a registered account may do anything beyond logging in",
  },
  {
    flag: "registration",
    value: "MODE",
    default: "open",
    help: "open: anyone may /register the name they hold; closed: only an operator creates accounts ('accounts create')",
  },
  {
    flag: "api-keys",
    value: "FILE",
    help: "keys for the HTTP API (/api/), one 'NAME KEY' a line; besides those made with 'keys add'",
  },
  {
    flag: "api-streams",
    value: "N",
    default: "10",
    help: "event streams (/api/events) open at once per API key, and per address, on each instance",
  },
  { flag: "quiet", short: "q", help: "do not log each message (connections are still logged)" },
  { flag: "help", short: "h", help: "show this help and exit" },
  { flag: "version", short: "v", help: "show the version and exit" },
] as const;

/** --help: the three ways to run it, what it is, and the options table. */
function serverHelp(): string {
  return formatHelp(
    [
      `${commandName("server.ts")} [options]`,
      `${commandName("server.ts")} accounts list|create NAME|reset-password NAME|delete NAME|op NAME|deop NAME (--store FILE | --redis URL)`,
      `${commandName("server.ts")} keys add NAME|revoke NAME|list (--store FILE | --redis URL)`,
    ],
    "Chat server: every message a client sends goes to everyone in its room, the sender\n" +
      "included, as '<sender>: <message>'. Plain-text WebSocket clients and clients of the\n" +
      `JSON subprotocol ${SUBPROTOCOL} share the rooms. GET /healthz and /metrics report on it.\n` +
      "With 'accounts', manages the accounts where the server keeps them ('accounts --help'); with\n" +
      "'keys', the API keys of the HTTP API at /api/ (GET /api/openapi.json describes it; 'keys --help').",
    OPTIONS,
  );
}

async function main(): Promise<void> {
  // The operators' command line for accounts is a program of its own (server/accounts/cli.ts).
  if (process.argv[2] === "accounts") return withHelpOf("accounts", () => accountsCommand(process.argv.slice(3)));
  // The operators' command line for API keys (server/api/keys-command.ts).
  if (process.argv[2] === "keys") return withHelpOf("keys", () => runKeysCommand(process.argv.slice(3)));
  // 1. Options: flags, then environment, then defaults.
  const { values: options } = parseCommandLine(OPTIONS, process.argv.slice(2));
  if (options.help) {
    process.stdout.write(serverHelp());
    return;
  }
  if (options.version) {
    process.stdout.write(`${pkg.version}\n`);
    return;
  }

  // 2. Listen, or say in one line why we cannot; with --redis, join the other instances.
  const config = readConfig(options);
  const server = await startChatServer(config, pkg.version);
  // Listening on every address (:: or 0.0.0.0), this machine reaches itself at 127.0.0.1.
  const local = server.url.replace(/\/\/(\[::\]|0\.0\.0\.0):/, "//127.0.0.1:");
  const ca =
    config.tls && isSelfSigned(await Bun.file(config.tls.certFile).text()) ? ` --ca ${config.tls.certFile}` : "";
  server.log.line(`Listening on ${server.url}`);
  server.log.line(`Connect a client with: ${otherProgram("client")}${ca}${tokenHint(config.limits.token)} ${local}`);
  server.log.line(
    `Or open ${local.replace(/^ws/, "http")}/ in a browser${ca && " (it will warn about the self-signed certificate)"}`,
  );
  if (server.temporaryAccounts)
    server.log.line(
      "Accounts are kept in memory: they last until the server stops (keep them with --store or --redis).",
    );
  if (server.nobodyCanLogIn)
    server.log.line(
      `This server is for registered accounts only (--guests no), and has none yet: make one with ${commandName("server.ts")} accounts create NAME and the same --store or --redis.`,
    );

  // 3. Stop cleanly on Ctrl-C or a service manager's SIGTERM: tell everyone, close with 1001,
  //    write out the history, and exit.
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, async () => {
      server.log.line(`Shutting down (${signal})`);
      await server.shutDown();
      process.exit(0);
    });
  }
}

/**
 * The client's --token for the banner, never the secret itself: the log may be kept, shown or
 * shared. A token from CHAT_TOKEN is named by the variable, which the shell fills in where it is
 * set; one given with --token, by the placeholder that --help uses.
 */
function tokenHint(token: string | undefined): string {
  if (token === undefined) return "";
  return process.env.CHAT_TOKEN === token ? ' --token "$CHAT_TOKEN"' : " --token TOKEN";
}

/** A certificate that signed itself: clients must be given it (--ca) to trust it. */
function isSelfSigned(pem: string): boolean {
  try {
    const certificate = new X509Certificate(pem);
    return certificate.issuer === certificate.subject;
  } catch {
    return false;
  }
}

await runMain("server.ts", main);
