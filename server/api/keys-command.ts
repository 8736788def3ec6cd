/**
 * `bun server.ts keys add NAME | revoke NAME | list`: an operator's command on the API keys kept
 * in the shared state, the --store file's or Redis's, given as the server is given them. A running
 * server follows: through Redis at once, through the --store file within a second
 * (state/local.ts). A new key is printed once, alone on stdout, so that a script can keep it
 * (`KEY=$(bun server.ts keys add ci --store chat.db)`); only its SHA-256 is kept.
 */
import { commandName, formatHelp, parseCommandLine, StartError, UsageError } from "../../common/cli";
import { openState, startState, stateOptions } from "../state/open";
import type { SharedState } from "../state/state";
import { hashKey, keyName, keysTable, newKey } from "./keys";

const OPTIONS = [...stateOptions("keys"), { flag: "help", short: "h", help: "show this help and exit" }] as const;

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
  const { state, close } = openState("keys", values, action === "add");
  try {
    keysTable(state);
    await startState(state, values.redis);
    if (action === "list") return list(state);
    const named = keyName(given!);
    if ("problem" in named) throw new UsageError(`'${given}' cannot be a key's name: ${named.problem}`);
    await (action === "add" ? add(state, named.name) : revoke(state, named.name));
  } finally {
    close();
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
  if (rows.length === 0) return void process.stdout.write("No keys: keys add NAME makes one.\n");
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
