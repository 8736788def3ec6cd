/**
 * The operators' command line for accounts: `bun server.ts accounts list|create NAME|
 * reset-password NAME|delete NAME`, on the --store file or --redis (the flags the server runs
 * with), whether the server runs now or not. Each prints one clear line (list, one per account).
 *
 * It changes the same tables the server reads (store.ts), so a running server hears of it: with
 * --redis at once, with --store within a second (state/local.ts follows the file). Resetting a
 * password or deleting an account ends its sessions, and whoever is logged in to it is logged out.
 * A new password comes from stdin when it is piped, or is asked for, masked, on a terminal; it is
 * hashed here (argon2id) and never printed, kept or logged.
 */
import { commandName, formatHelp, parseCommandLine, StartError, UsageError } from "../../common/cli";
import { nameProblem, normalizeName } from "../../common/text";
import { setOperator } from "../moderation/operators";
import { openState, startState, stateOptions } from "../state/open";
import { ARGON2ID, passwordProblem } from "./passwords";
import { readPassword } from "./prompt";
import { type Account, AccountStore } from "./store";

const OPTIONS = [...stateOptions("accounts"), { flag: "help", short: "h", help: "show this help and exit" }] as const;

const ACTIONS = ["list", "create", "reset-password", "delete", "op", "deop"] as const;
type Action = (typeof ACTIONS)[number];

export function accountsHelp(): string {
  const run = `${commandName("server.ts")} accounts`;
  return formatHelp(
    [
      `${run} list (--store FILE | --redis URL)`,
      `${run} create NAME (--store FILE | --redis URL)`,
      `${run} reset-password NAME (--store FILE | --redis URL)`,
      `${run} delete NAME (--store FILE | --redis URL)`,
      `${run} op|deop NAME (--store FILE | --redis URL)`,
    ],
    "Manages the chat's accounts where the server keeps them: the --store file or Redis, given as\n" +
      "the server is given it, whether the server runs now or not (it hears of the change).\n" +
      "create and reset-password read the new password from stdin when it is piped, or ask for\n" +
      "it, masked, on a terminal; it is never printed. For example:\n" +
      `  printf '%s\\n' 'correct-horse' | ${run} create alice --store chat.db\n` +
      "reset-password and delete end the account's sessions: whoever is logged in to it is logged out.\n" +
      "op makes a registered name an operator of the whole chat; deop undoes it.",
    OPTIONS,
  );
}

export async function accountsCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseCommandLine(OPTIONS, argv, { positionals: 2 });
  if (values.help) return void process.stdout.write(accountsHelp());
  const [action, name] = readAction(positionals);
  const { state, close } = openState("accounts", values, action === "create");
  try {
    const store = new AccountStore(state);
    await startState(state, values.redis);
    const done =
      action === "op" || action === "deop"
        ? await setOperator(state, name, action === "op", store.find(name)?.row.created)
        : await act(store, action, name);
    process.stdout.write(`${done}\n`);
  } finally {
    close();
  }
}

function readAction(positionals: string[]): [Action, string] {
  const [action, name] = positionals;
  if (!ACTIONS.includes(action as Action))
    throw new UsageError(
      action === undefined
        ? `Say what to do: ${ACTIONS.join(", ")}.`
        : `'${action}' is not something accounts can do: ${ACTIONS.join(", ")}.`,
    );
  if (action === "list") {
    if (name !== undefined) throw new UsageError(`Unexpected argument '${name}': list takes no name.`);
    return ["list", ""];
  }
  if (name === undefined) throw new UsageError(`${action} needs the account's name, e.g. accounts ${action} alice.`);
  return [action as Action, name];
}

async function act(store: AccountStore, action: Exclude<Action, "op" | "deop">, name: string): Promise<string> {
  if (action === "list") return list(store);
  if (action === "create") return create(store, name);
  const account = store.find(name);
  if (!account) throw new StartError(`There is no account '${name}'.`);
  if (action === "delete") return remove(store, account);
  return resetPassword(store, account);
}

function list(store: AccountStore): string {
  const rows = [...store.accounts.entries()].sort(([, a], [, b]) => a.name.localeCompare(b.name));
  if (rows.length === 0) return "No accounts yet.";
  return rows
    .map(([key, { name, created }]) => `${name} (registered ${created}, ${sessions(store.sessionsOf(key).length)})`)
    .join("\n");
}

async function create(store: AccountStore, wanted: string): Promise<string> {
  const name = normalizeName(wanted);
  const problem = nameProblem(name);
  if (problem) throw new UsageError(problem);
  const existing = store.find(name);
  if (existing) {
    const alike = existing.row.name === name ? "" : ` (as '${existing.row.name}', which looks the same)`;
    throw new StartError(`The name '${name}' is registered already${alike}.`);
  }
  const hash = await ARGON2ID.hash(await newPassword(name));
  if (!(await store.create(name, hash))) throw new StartError(`The name '${name}' was registered meanwhile.`);
  return `Created the account ${name}.`;
}

async function resetPassword(store: AccountStore, { key, row }: Account): Promise<string> {
  const hash = await ARGON2ID.hash(await newPassword(row.name));
  await store.accounts.put(key, { ...row, hash });
  const ended = await store.endSessions(key);
  return `Reset the password of ${row.name}; ${sessions(ended)} ended.`;
}

async function remove(store: AccountStore, { key, row }: Account): Promise<string> {
  await store.accounts.delete(key);
  const ended = await store.endSessions(key);
  return `Deleted the account ${row.name}; ${sessions(ended)} ended.`;
}

/** The new password: from stdin when it is piped, asked for (masked) on a terminal; checked. */
async function newPassword(name: string): Promise<string> {
  return readPassword(`New password for ${name}: `, passwordProblem);
}

function sessions(count: number): string {
  return count === 1 ? "1 session" : `${count} sessions`;
}
