/**
 * The chat client's entry point: its options, and which of its modes to run.
 * - On a terminal it is interactive (client/terminal/terminal.ts): it asks for a name, then you type at a
 *   prompt and what is said in your room appears above it.
 * - Otherwise (stdin or stdout not a terminal) it is a filter (client/terminal/pipes.ts): each stdin line is
 *   sent, and each line received is printed as `From server: <line>`.
 * - With --json it prints every event as one JSON object per line (NDJSON), for scripts.
 *
 * All three speak chat.v1.json through a ChatSession (client/session/session.ts), which reconnects by
 * itself after a drop and resumes where it left off.
 */

import type { SessionOptions } from "./client/session/status";
import { bunWebSocket } from "./client/terminal/bun-socket";
import { KeptLogins } from "./client/terminal/kept-logins";
import { chatAsNdjson, chatThroughPipes } from "./client/terminal/pipes";
import { checkedName, DEFAULT_URL, readCa, readPassword, serverUrl } from "./client/terminal/target";
import { chatInTerminal } from "./client/terminal/terminal";
import { commandName, formatHelp, parseCommandLine, runMain } from "./common/cli";
import pkg from "./package.json";

const OPTIONS = [
  { flag: "name", short: "n", value: "NAME", help: "your name in the chat (on a terminal you are asked otherwise)" },
  { flag: "room", short: "r", value: "ROOM", help: "the room to join (default chat)" },
  { flag: "json", help: "print every event as one JSON object per line, for scripts" },
  { flag: "host", value: "HOST", help: "server host, instead of a URL (default 127.0.0.1)" },
  { flag: "port", short: "p", value: "PORT", help: "server port, instead of a URL (default 2000)" },
  { flag: "token", value: "TOKEN", env: "CHAT_TOKEN", help: "the shared secret, if the server wants one" },
  {
    flag: "password-file",
    value: "FILE",
    help: "log in to a registered --name with the password on FILE's first line (or env CHAT_PASSWORD)",
  },
  { flag: "forget", help: "forget the login kept for this server (the next login asks for the password)" },
  { flag: "ca", value: "FILE", help: "trust this certificate (PEM) for wss://, e.g. a self-signed one" },
  { flag: "no-reconnect", help: "exit when the connection drops instead of reconnecting" },
  { flag: "help", short: "h", help: "show this help and exit" },
  { flag: "version", short: "v", help: "show the version and exit" },
] as const;

async function main(): Promise<void> {
  // 1. Options.
  const { values: options, positionals } = parseCommandLine(OPTIONS, process.argv.slice(2), { positionals: 1 });
  if (options.help) {
    const name = commandName("client.ts");
    process.stdout.write(
      formatHelp(
        [`${name} [options] [URL]`, `${name} [options] < messages.txt`, `${name} --json [options] [URL]`],
        `Chat client. URL defaults to ${DEFAULT_URL}; 'host:port' is enough.\n` +
          "On a terminal you type messages at a prompt; /help lists the commands, and /quit,\n" +
          "Ctrl-C or Ctrl-D leaves. Otherwise each line of stdin is sent as a message (or a\n" +
          "command such as /nick bot) and each line received is printed as 'From server: <line>'.\n" +
          "After a dropped connection it reconnects and resumes where it left off.",
        OPTIONS,
      ),
    );
    return;
  }
  if (options.version) {
    process.stdout.write(`${pkg.version}\n`);
    return;
  }

  // 2. Where to connect, and as whom.
  const session: SessionOptions = {
    url: serverUrl(positionals[0], options.host, options.port),
    ...(options.name !== undefined && { name: checkedName(options.name, "--name", "name") }),
    ...(options.room !== undefined && { room: checkedName(options.room, "--room", "room") }),
    ...(options.token !== undefined && { token: options.token }),
    // Bun's WebSocket: the token as a header, and the certificate to trust, if any.
    openWebSocket: bunWebSocket(options.ca !== undefined ? await readCa(options.ca) : undefined),
    reconnect: !options["no-reconnect"],
  };

  // 3. Logging in to a registered name: with a password from a file or the environment, or the
  //    login kept from an earlier run on a terminal (never a password on the command line, where
  //    any user of the machine can read it).
  const accounts = {
    kept: new KeptLogins(),
    forget: options.forget,
    password: await readPassword(options["password-file"], process.env.CHAT_PASSWORD),
  };

  // 4. Interactive only when a person is at a terminal on both ends.
  if (options.json) await chatAsNdjson(session, accounts);
  else if (process.stdin.isTTY && process.stdout.isTTY) await chatInTerminal(session, accounts);
  else await chatThroughPipes(session, accounts);
}

await runMain("client.ts", main);
