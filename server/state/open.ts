/**
 * The shared state as an operator's command opens it (`bun server.ts accounts …`, `keys …`): where
 * the server keeps it, the --store file or Redis, given as the server is given it, whether the
 * server runs now or not (it hears of each change). A command asks for its tables between opening
 * and starting, as the server does, so that they are loaded with the rest.
 */
import { Database } from "bun:sqlite";
import { existsSync } from "node:fs";
import { StartError, UsageError } from "../../common/cli";
import { Logger } from "../log";
import { LocalState } from "./local";
import { RedisState } from "./redis";
import type { SharedState } from "./state";

/** The two options every such command takes, worded for `what` it manages ("accounts", "keys"). */
export function stateOptions(what: string) {
  return [
    { flag: "store", value: "FILE", help: `the SQLite file the server keeps its history and ${what} in (its --store)` },
    {
      flag: "redis",
      value: "URL",
      env: "REDIS_URL",
      help: "the Redis the server's instances share (their --redis), e.g. redis://127.0.0.1:6379",
    },
  ] as const;
}

/**
 * Opens the state at the --store file or the --redis URL (exactly one of them). A --store file
 * that does not exist is made only when `mayCreate` (the command makes something): a mistyped name
 * would otherwise be a new, empty file that no server reads.
 */
export function openState(
  what: string,
  { store, redis }: { store?: string; redis?: string },
  mayCreate: boolean,
): { state: SharedState; close: () => void } {
  if ((store === undefined) === (redis === undefined))
    throw new UsageError(
      `Give the server's --store FILE or its --redis URL (one of them): without either, ${what} live in the running server's memory only.`,
    );
  if (redis !== undefined) {
    // Its log lines (connected, unreachable) go to stderr, so that stdout has the command's answer alone.
    const state = new RedisState(redis, new Logger(process.stderr, true));
    return { state, close: () => state.close() };
  }
  const file = store!;
  if (!mayCreate && !existsSync(file))
    throw new StartError(`There is no file '${file}'. Give the --store file the server runs with.`);
  let db: Database;
  try {
    db = new Database(file, { create: true, strict: true });
  } catch (error) {
    throw new StartError(`Could not open '${file}': ${error instanceof Error ? error.message : String(error)}.`);
  }
  const state = new LocalState(db);
  return {
    state,
    close: () => {
      state.close();
      db.close();
    },
  };
}

/** Loads the tables asked for; with Redis, fails with one line if it cannot be reached. */
export async function startState(state: SharedState, redis: string | undefined): Promise<void> {
  await state.start();
  if (state instanceof RedisState && !state.connected)
    throw new StartError(`Could not reach Redis at ${redis}. Is it running?`);
}
