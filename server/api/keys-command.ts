/**
 * `bun server.ts keys add NAME | revoke NAME | list`: an operator's command on the API keys kept
 * in the shared state, the --store file's or Redis's, given as the server is given them. A running
 * server follows: through Redis at once, through the --store file within a second
 * (state/local.ts). A new key is printed once, alone on stdout, so that a script can keep it
 * (`KEY=$(bun server.ts keys add ci --store chat.db)`); only its SHA-256 is kept.
 */
import { Database } from "bun:sqlite";
import { commandName, formatHelp, parseCommandLine, StartError, UsageError } from "../../common/cli";
import { Logger } from "../log";
import { LocalState } from "../state/local";
import { RedisState } from "../state/redis";
import type { SharedState } from "../state/state";
import { hashKey, keyName, keysTable, newKey } from "./keys";

const OPTIONS = [
  { flag: "store", value: "FILE", help: "the --store file the server keeps its state in" },
  {
    flag: "redis",
    value: "URL",
    env: "REDIS_URL",
    help: "the Redis the servers share, e.g. redis://127.0.0.1:6379",
  },
  { flag: "help", short: "h", help: "show this help and exit" },
] as const;

const WHERE = "Keys are kept where the server keeps its state: give --store FILE or --redis URL, as the server has.";

/** Runs the command of `argv` (what follows `keys`). */
export async function runKeysCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseCommandLine(OPTIONS, argv, { positionals: 2 });
  const usage = `${commandName("server.ts")} keys`;
  if (values.help || positionals.length === 0) {
    process.stdout.write(
      formatHelp(
        [`${usage} add NAME [options]`, `${usage} revoke NAME [options]`, `${usage} list [options]`],
        "API keys for the HTTP API (/api/): add prints a new key once (only its SHA-256 is kept);\n" +
          "a message said with it appears from NAME, marked as a bot. revoke ends a key at once.",
        OPTIONS,
      ),
    );
    return;
  }
  const [action, given] = positionals as [string, string | undefined];
  if (!["add", "revoke", "list"].includes(action))
    throw new UsageError(`'${action}' is not a keys command: add NAME, revoke NAME or list.`);
  if (action !== "list" && given === undefined) throw new UsageError(`keys ${action} needs a NAME.`);
  if (action === "list" && given !== undefined) throw new UsageError(`keys list takes no NAME.`);
  const state = await openState(values.store, values.redis);
  try {
    if (action === "list") return list(state);
    const named = keyName(given!);
    if ("problem" in named) throw new UsageError(`'${given}' cannot be a key's name: ${named.problem}`);
    await (action === "add" ? add(state, named.name) : revoke(state, named.name));
  } finally {
    state.close();
  }
}

async function openState(store: string | undefined, redis: string | undefined): Promise<SharedState> {
  if (store !== undefined && redis !== undefined)
    throw new UsageError("Give --store or --redis, not both: the server keeps its state in Redis when it has both.");
  if (redis !== undefined) {
    // Its log lines (connected, unreachable) go to stderr, so that stdout has the key alone.
    const state = new RedisState(redis, new Logger(process.stderr, true));
    keysTable(state);
    await state.start();
    return state;
  }
  if (store === undefined) throw new UsageError(WHERE);
  try {
    const state = new LocalState(new Database(store, { create: true, strict: true }));
    keysTable(state);
    return state;
  } catch (error) {
    throw new StartError(`Could not open the store '${store}': ${error instanceof Error ? error.message : error}.`);
  }
}

async function add(state: SharedState, name: string): Promise<void> {
  const key = newKey();
  const created = await kept(keysTable(state).create(name, { hash: hashKey(key), created: new Date().toISOString() }));
  if (!created) throw new StartError(`${name} has a key already; revoke it first (keys revoke ${name}).`);
  process.stdout.write(`${key}\n`);
  process.stderr.write(`The key of ${name}, shown this once: send it as Authorization: Bearer <key>.\n`);
}

async function revoke(state: SharedState, name: string): Promise<void> {
  if (!(await kept(keysTable(state).delete(name)))) throw new StartError(`There is no key named ${name}.`);
  process.stdout.write(`Revoked the key of ${name}.\n`);
}

function list(state: SharedState): void {
  const rows = [...keysTable(state).entries()].sort(([a], [b]) => a.localeCompare(b));
  if (rows.length === 0) return void process.stdout.write("No keys yet: keys add NAME makes one.\n");
  for (const [name, { created }] of rows) process.stdout.write(`${name}  created ${created}\n`);
}

/** A write to the state, or one line on why it was not kept (Redis unreachable). */
async function kept<T>(write: Promise<T>): Promise<T> {
  try {
    return await write;
  } catch (error) {
    throw new StartError(error instanceof Error ? error.message : String(error));
  }
}
