/**
 * The server put together from its parts: history, the directory (local, or Redis with --redis),
 * the chat core, admission, metrics and the log, behind the transport. server.ts starts it.
 */
import { StartError } from "../common/cli";
import { makeApi } from "./api/api";
import { readKeyFile } from "./api/keys";
import { Chat } from "./chat";
import { type Config, readTls } from "./config";
import { LocalDirectory, type MakeDirectory } from "./directory";
import { History } from "./history";
import { Logger } from "./log";
import { Metrics } from "./metrics";
import { buildPage } from "./page";
import { RedisDirectory } from "./redis/directory";
import { RedisLink } from "./redis/link";
import { Rooms } from "./rooms";
import { LocalState } from "./state/local";
import { RedisState } from "./state/redis";
import { listen, ServerHub } from "./transport";

export interface ChatServer {
  url: string;
  port: number;
  log: Logger;
  /** True when accounts are kept in memory only (no --store, no --redis): they last until it stops. */
  temporaryAccounts: boolean;
  /** True on a server for registered accounts only (--guests no) that has no account yet: nobody can get in. */
  nobodyCanLogIn: boolean;
  /** Tells everyone, closes every connection, lets go of Redis and writes out the history. */
  shutDown(): Promise<void>;
}

export async function startChatServer(config: Config, version: string): Promise<ChatServer> {
  const { limits } = config;
  const tls = config.tls && (await readTls(config.tls));
  const log = new Logger(process.stdout, config.quiet);
  const metrics = new Metrics();
  const rooms = new Rooms();
  // A room someone is in keeps its numbering when history is short of memory.
  const history = openHistory(config, (room) => rooms.size(room) > 0);
  const { redis } = config;
  const directory: MakeDirectory = redis
    ? (sink) =>
        new RedisDirectory(sink, history, {
          link: new RedisLink(redis),
          log,
          metrics,
          historyBytes: config.historyBytes,
          idleDays: config.storeKeep.days,
        })
    : (sink) => new LocalDirectory(sink, history);
  const hub = new ServerHub();
  const state = redis ? new RedisState(redis, log) : new LocalState(history.database);
  const moderation = { ops: config.ops };
  const chat = new Chat({
    limits,
    hub,
    rooms,
    directory,
    log,
    metrics,
    version,
    state,
    accounts: config.accounts,
    moderation,
  });
  const fileKeys = config.api.keyFile === undefined ? [] : readKeyFile(config.api.keyFile);
  const api = makeApi(chat, { fileKeys, streamsPerKey: config.api.streams });
  // Everything the chat needs is ready before anyone is let in: the page (read from the executable
  // if compiled) and the directory (connected to Redis, or its first try failed).
  const page = await buildPage();
  await chat.start();
  // Whoever registers such a name first becomes an operator: the person starting the server should know.
  for (const name of config.ops)
    if (!chat.accounts.store.find(name))
      log.line(`--ops ${name}: nobody has registered ${name} yet; whoever registers it first is an operator.`);
  const transport = await listen(
    { hub, log, chat, metrics, directory: chat.directory, limits, api },
    { page, host: config.host, port: config.port, tls, reusePort: config.reusePort },
  );
  return {
    url: transport.url,
    port: transport.port,
    log,
    temporaryAccounts: chat.accounts.temporary,
    nobodyCanLogIn: !config.accounts.guests && chat.accounts.store.accounts.size === 0,
    async shutDown() {
      await transport.shutDown();
      chat.moderation.stop();
      // The state first: with --store, it reads the file the directory's history closes.
      chat.state.close();
      await chat.directory.close();
      log.flush();
    },
  };
}

function openHistory(
  { history: limit, store, historyBytes, limits, storeKeep }: Config,
  isOccupied: (room: string) => boolean,
): History {
  try {
    // Rooms remembered: those with people (at most --max-rooms) and as many that have emptied.
    const options = { maxBytes: historyBytes, maxRooms: 2 * limits.maxRooms, storeKeep, isOccupied };
    return new History(limit, store, options);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new StartError(
      `Could not open the history store '${store}': ${reason}. Check the path, or leave out --store to keep history in memory.`,
    );
  }
}
