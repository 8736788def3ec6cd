/**
 * Command-line options shared by the chat's programs (and the benchmark): each program declares one table of options,
 * and that table drives both the parsing (flag, then environment variable, then default) and the
 * `--help` text, so the two can never disagree.
 */

import { basename } from "node:path";
import { parseArgs } from "node:util";
import { bunCommand, runCommand } from "./run-command";

/** One command-line option. */
export interface OptionSpec {
  /** Long flag without its dashes, e.g. `"port"` for `--port`. */
  readonly flag: string;
  /** One-letter alias, e.g. `"p"` for `-p`. */
  readonly short?: string;
  /** Placeholder shown in `--help` for an option that takes a value; a switch has none. */
  readonly value?: string;
  /** Environment variable read when the flag is not given. */
  readonly env?: string;
  /** Used when neither the flag nor the environment variable is given. */
  readonly default?: string;
  /** One line for `--help`. */
  readonly help: string;
}

/** The values of a table's options: a string (or undefined) for valued options, a boolean for switches. */
export type OptionValues<T extends readonly OptionSpec[]> = {
  [O in T[number] as O["flag"]]: O extends { value: string }
    ? O extends { default: string }
      ? string
      : string | undefined
    : boolean;
};

/** A mistake on the command line: reported in one line, exit code 2, no stack trace. */
export class UsageError extends Error {
  /** The words after the program's name that show the help that applies, if not its own: `accounts --help`. */
  help = "--help";
}

/** Runs a part of the program that has a help of its own (`accounts`): its mistakes point to that help. */
export async function withHelpOf<T>(part: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof UsageError) error.help = `${part} --help`;
    throw error;
  }
}

/** A program could not start (a port in use, a store it cannot open): one line, exit code 1. */
export class StartError extends Error {}

/** True in an executable made by `bun build --compile`, whose modules live under Bun's `/$bunfs/`. */
export function isCompiled(): boolean {
  return Bun.main.includes("$bunfs");
}

/** How the user starts this program, for messages: `bun server.ts`, `npx bun server.ts`, or `chat-server` when compiled. */
export function commandName(script: string): string {
  return isCompiled() ? basename(process.execPath) : `${bunCommand()} ${script}`;
}

/** How to start the other program of the pair, in the same form as this one was started. */
export function otherProgram(role: "server" | "client"): string {
  return runCommand(role);
}

/** Parses `argv` against `options`; throws UsageError for unknown flags or missing values. */
export function parseCommandLine<const T extends readonly OptionSpec[]>(
  options: T,
  argv: string[],
  { positionals = 0 }: { positionals?: number } = {},
): { values: OptionValues<T>; positionals: string[] } {
  const config: Record<string, { type: "string" | "boolean"; short?: string }> = {};
  for (const option of options) {
    config[option.flag] = { type: option.value ? "string" : "boolean", ...(option.short && { short: option.short }) };
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: withValuesAttached(options, argv),
      options: config,
      strict: true,
      allowPositionals: true,
    });
  } catch (error) {
    throw new UsageError(describeParseError(error));
  }
  const eaten = eatenByNpm(options, parsed.positionals);
  if (eaten) throw new UsageError(eaten);
  if (parsed.positionals.length > positionals) {
    throw new UsageError(`Unexpected argument '${parsed.positionals[positionals]}'.`);
  }
  const values: Record<string, string | boolean | undefined> = {};
  for (const option of options) {
    const given = parsed.values[option.flag];
    if (!option.value) values[option.flag] = given === true;
    else values[option.flag] = (given as string | undefined) ?? envValue(option.env) ?? option.default;
  }
  return { values: values as OptionValues<T>, positionals: parsed.positionals };
}

/**
 * `--port 80` as `--port=80`, checked: node:util takes `--port -1` for two options and blames the
 * wrong one, and says `-p,` for a short option with no value. Here a missing value is named by its
 * long flag, and a value that starts with a dash and a digit (`-1`) is the value, for the option's
 * own check to refuse in its words.
 */
function withValuesAttached(options: readonly OptionSpec[], argv: string[]): string[] {
  const valued = new Map<string, OptionSpec>();
  for (const option of options) {
    if (!option.value) continue;
    valued.set(`--${option.flag}`, option);
    if (option.short) valued.set(`-${option.short}`, option);
  }
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const option = valued.get(arg);
    if (arg === "--") return [...args, ...argv.slice(i)];
    if (!option) {
      args.push(arg);
      continue;
    }
    const value = argv[i + 1];
    if (value === undefined || (value.startsWith("-") && !/^-\d/.test(value))) {
      throw new UsageError(`Option '--${option.flag}' needs a value (${option.value}).`);
    }
    args.push(`--${option.flag}=${value}`);
    i++;
  }
  return args;
}

/**
 * Under `npm start` and `npm run`, the options before `--` are npm's: `npm start --port 43008`
 * makes npm keep `--port` (as npm_config_port=true: a flag it does not know takes no value) and
 * pass `43008` on alone, as if it were an argument. Then the arguments are our options' values,
 * and the way out is `--`. Only `true` counts: another value came from an .npmrc, not from a flag
 * npm took. (npx is npm too, but passes the options after the command on.)
 */
function eatenByNpm(options: readonly OptionSpec[], positionals: string[]): string | undefined {
  const event = process.env.npm_lifecycle_event;
  if (!event || event === "npx" || positionals.length === 0) return undefined;
  const taken = options.filter((o) => o.value && process.env[`npm_config_${o.flag.replaceAll("-", "_")}`] === "true");
  if (taken.length === 0) return undefined;
  const npm = ["start", "stop", "restart", "test"].includes(event) ? `npm ${event}` : `npm run ${event}`;
  // With one of each, the value is known to be that option's; with more, which is whose is not.
  const example =
    taken.length === 1 && positionals.length === 1
      ? `--${taken[0]!.flag} ${positionals[0]}`
      : taken.map((o) => `--${o.flag} ${o.value}`).join(" ");
  const flags = taken.map((o) => `'--${o.flag}'`).join(" and ");
  const values = positionals.map((p) => `'${p}'`).join(" and ");
  return `npm took ${flags} as its own and passed ${values} on as ${positionals.length === 1 ? "an argument" : "arguments"}. Put the options after '--': ${npm} -- ${example}.`;
}

function envValue(name: string | undefined): string | undefined {
  const value = name ? process.env[name] : undefined;
  return value === "" ? undefined : value;
}

/** node:util's parse errors are long and name internals; say what was wrong in the user's terms. */
function describeParseError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: string }).code;
  // node names an option with a short form as '-q, --quiet': the long form is the one to show.
  const flag = /'(?:-\w, )?(--?[^' ,]+)/.exec(message)?.[1];
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" && flag) return `Unknown option '${flag}'.`;
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE" && flag) {
    return message.includes("argument missing")
      ? `Option '${flag}' needs a value.`
      : `Option '${flag}' takes no value.`;
  }
  return message.split("\n")[0] ?? message;
}

/** The `--help` text: usage lines, a description, then one line per option from the same table. */
export function formatHelp(usage: string[], description: string, options: readonly OptionSpec[]): string {
  const left = options.map((o) => `${o.short ? `-${o.short}, ` : "    "}--${o.flag}${o.value ? ` ${o.value}` : ""}`);
  const width = Math.max(...left.map((l) => l.length)) + 2;
  const rows = options.map((o, i) => {
    const notes = [o.env && `env ${o.env}`, o.default !== undefined && `default ${o.default}`].filter(Boolean);
    return `  ${left[i]!.padEnd(width)}${o.help}${notes.length ? ` (${notes.join(", ")})` : ""}`;
  });
  return [
    ...usage.map((u, i) => `${i === 0 ? "Usage: " : "       "}${u}`),
    "",
    description,
    "",
    "Options:",
    ...rows,
    "",
  ].join("\n");
}

/** Parses a TCP port; `what` names where it came from, for the error. */
export function parsePort(text: string, what: string): number {
  const port = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(port >= 0 && port <= 65535)) throw new UsageError(`${what} must be a number from 0 to 65535, not '${text}'.`);
  return port;
}

/**
 * Runs a program's main function, turning a UsageError into one line on stderr and exit code 2,
 * and a StartError into one line and exit code 1. Any other error is a bug of ours and keeps its
 * stack trace.
 */
export async function runMain(script: string, main: () => Promise<void> | void): Promise<void> {
  try {
    await main();
  } catch (error) {
    if (error instanceof StartError) {
      process.stderr.write(`${commandName(script)}: ${error.message}\n`);
      process.exit(1);
    }
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(
      `${commandName(script)}: ${error.message} Run '${commandName(script)} ${error.help}' for usage.\n`,
    );
    process.exit(2);
  }
}
