/**
 * The client as a filter, when stdin or stdout is not a terminal: each stdin line is sent as one
 * message (or command, like `/nick bot`), and each event received is printed, either as
 * `From server: <line>` (the original exercise's client) or, with --json, as one JSON object per
 * line (NDJSON). Diagnostics go to stderr.
 */
import { createInterface } from "node:readline";
import { ACCOUNT_COMMANDS, CommandError, parseTyped } from "../../common/commands";
import type { ChatEvent } from "../../common/events";
import { toText } from "../../common/plain-text";
import { messagesWere } from "../../common/text";
import type { ChatSession } from "../session/session";
import type { SessionOptions } from "../session/status";
import { exitAfterOutput, openOrExit } from "./exit";
import { exitCodeFor, withHint } from "./failures";
import type { Accounts } from "./login";

/** At end of input, how long to wait without any progress for everything sent to be answered. */
const SETTLE_QUIET_MS = 5_000;

/**
 * Writes a line of a filter's output. When whoever reads it has gone (`| head -3`), there is no
 * one left to chat for: leave quietly, as Unix filters do, instead of failing on EPIPE.
 */
function output(line: string): void {
  try {
    process.stdout.write(`${line}\n`);
  } catch (error) {
    if ((error as { code?: string }).code !== "EPIPE") throw error;
    process.exit(0);
  }
}
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code !== "EPIPE") throw error;
  process.exit(0);
});

/**
 * Sends each stdin line, has `print` show each event, and tells on stderr what happens to the
 * connection. At end of input it waits until everything sent has been answered, then leaves. A
 * registered name is logged in to with the password given (--password-file, CHAT_PASSWORD); the
 * logins a terminal keeps are not used (a script says which account it runs as), only --forget.
 */
async function relayStdin(
  options: SessionOptions,
  accounts: Accounts,
  print: (event: ChatEvent, raw: string) => void,
): Promise<void> {
  if (accounts.forget) accounts.kept.forget(options.url);
  const opened = await openOrExit(options, accounts);
  if (!opened) return;
  const { session } = opened;
  const say = (line: string) => process.stderr.write(`${line}\n`);
  const refused = { messages: 0, commands: 0 };
  /** Account commands sent (a /password…), by id: one refused fails the run as a message refused does. */
  const accountCommands = new Set<string>();
  const printAndCount = (event: ChatEvent, raw: string) => {
    if (event.type === "error" && event.id !== undefined && accountCommands.delete(event.id)) refused.commands++;
    print(event, raw);
  };
  opened.listen(printAndCount, (status) => {
    switch (status.type) {
      case "lost":
        return say(
          `Connection lost (${withHint(status.reason, status.code, options.url)}); reconnecting in ${(status.delayMs / 1000).toFixed(1)} s (attempt ${status.attempt}).`,
        );
      case "reconnected":
        return say(`Reconnected to ${session.shownUrl}.`);
      case "not-sent":
        return say(`${messagesWere(status.count)} not sent: ${status.why}.`);
      case "refused":
        refused.messages++; // the server's words were printed with the other events
        return;
      case "ended":
        say(withHint(status.message, status.code, options.url));
        return exitAfterOutput(exitCodeFor(status.code));
    }
  });

  for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
    if (line.trim() === "") continue;
    if (line.trim() === "/quit") break;
    try {
      const command = parseTyped(line);
      const id = session.send(command);
      if (id !== undefined && ACCOUNT_COMMANDS.has(command.type)) accountCommands.add(id);
    } catch (error) {
      if (!(error instanceof CommandError)) throw error;
      say(error.message);
    }
  }

  await settleAndExit(session, refused, say);
}

/** Once input has ended: waits for the server's answers, then exits 0 only if every message arrived. */
async function settleAndExit(
  session: ChatSession,
  refused: { messages: number; commands: number },
  say: (line: string) => void,
): Promise<void> {
  const answered = await session.settle(SETTLE_QUIET_MS);
  const pending = session.pending;
  await session.close();
  if (!answered) {
    say(
      `${session.shownUrl} stopped answering for ${SETTLE_QUIET_MS / 1000} s; ${pending} of the messages sent had not come back.`,
    );
    return exitAfterOutput(1);
  }
  if (pending > 0) {
    say(`${pending} of the messages sent did not come back from ${session.shownUrl}; they were not delivered.`);
    return exitAfterOutput(1);
  }
  // Counted as refusals come back, some while settling.
  if (refused.messages > 0)
    say(`${messagesWere(refused.messages)} refused by the server (its reasons are above), and not delivered.`);
  if (refused.commands > 0) {
    const commands = refused.commands === 1 ? "1 account command was" : `${refused.commands} account commands were`;
    say(`${commands} refused by the server (its reasons are above).`);
  }
  if (refused.messages + refused.commands > 0) return exitAfterOutput(1);
  exitAfterOutput(0);
}

/**
 * Plain text: `From server: <line>`, each event as the server words it for plain-text clients.
 * Like a plain-text client, it shows no greeting; a note about missed messages goes to stderr.
 */
export async function chatThroughPipes(options: SessionOptions, accounts: Accounts): Promise<void> {
  let rooms = 0;
  let lastRoom: string | undefined;
  await relayStdin(options, accounts, (event) => {
    if (event.type === "welcome") return;
    if (event.type === "joined") {
      if (event.missed)
        process.stderr.write(
          `${messagesWere(event.missed)} missed while disconnected, too far back for the server's history.\n`,
        );
      // The first room, and the same room again after a reconnection, are not news (its topic is,
      // the first time, as a plain-text client is told it); a /join is.
      if (rooms++ === 0 && event.topic) output(`From server: *** Topic of ${event.room}: ${event.topic}`);
      if (rooms === 1 || event.room === lastRoom) return void (lastRoom = event.room);
      lastRoom = event.room;
    }
    // A session token is this client's to use, not a line for a script's log.
    const shown = event.type === "account" ? { ...event, token: undefined } : event;
    // Every line its own `From server:`, so that a script reading lines never meets a bare one.
    output(toText(shown).replaceAll("\n", "\nFrom server: ").replace(/^/, "From server: "));
  });
}

/**
 * NDJSON: every event, one per line, as checked and made safe (a raw line could carry 8-bit
 * control characters that JSON does not escape).
 */
export async function chatAsNdjson(options: SessionOptions, accounts: Accounts): Promise<void> {
  await relayStdin(options, accounts, (event) => output(JSON.stringify(event)));
}
