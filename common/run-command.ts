/**
 * How a person starts one of our programs, for the hints the programs print: `bun client.ts`,
 * `npx bun client.ts` for someone who has Bun only from npm (in node_modules, not on their PATH,
 * where `bun` would be "command not found"), or, from an executable, the other executable as typed
 * from here (`./dist/chat-client`). For the programs only: the page never names a command (the
 * terminal client adds these hints to the session's words, in client/terminal/failures.ts).
 */

/** `client` or `server`: the command that starts it, in the form that works for this person. */
export function runCommand(role: "client" | "server"): string {
  if (Bun.main.includes("$bunfs")) {
    const beside = executableBeside(role);
    if (beside !== undefined) return asTyped(beside);
    // An executable alone, without its pair: the source's way is the one left to name.
  }
  return `${bunCommand()} ${role}.ts`;
}

/**
 * The path of the other executable of the pair in this one's folder, if it is there: named like
 * this one with `server` and `client` swapped (`npm run build` makes chat-server and chat-client).
 */
function executableBeside(role: "client" | "server"): string | undefined {
  const own = process.execPath;
  const slash = own.lastIndexOf("/");
  const folder = own.slice(0, slash) || "/";
  const ownName = own.slice(slash + 1);
  const mine = role === "client" ? "server" : "client";
  const name = ownName.includes(mine) ? ownName.replace(mine, role) : `chat-${role}`;
  // Bun.which with the folder as the only PATH: the file is there, and executable.
  return Bun.which(name, { PATH: folder }) ?? undefined;
}

/**
 * A path as a person would type it from the current directory: the name alone if the PATH finds
 * it, `./dist/chat-client` below here (a shell runs a bare `dist/…` too, but `./` makes it plain
 * that it is a path), the whole path otherwise; quoted for the shell if it needs it.
 */
function asTyped(path: string): string {
  const name = path.slice(path.lastIndexOf("/") + 1);
  if (Bun.which(name) === path) return name;
  const cwd = process.cwd().replace(/\/$/, "");
  const typed = path.startsWith(`${cwd}/`) ? `./${path.slice(cwd.length + 1)}` : path;
  return /^[\w./@%+=:,-]+$/.test(typed) ? typed : `'${typed.replaceAll("'", `'\\''`)}'`;
}

/** `bun`, or `npx bun` when Bun came from npm and is not on the user's own PATH. */
export function bunCommand(): string {
  return bunOnUsersPath() ? "bun" : "npx bun";
}

let onPath: boolean | undefined;

/** Whether `bun` is on the user's own PATH: npm scripts add node_modules/.bin, which is not. */
function bunOnUsersPath(): boolean {
  if (onPath !== undefined) return onPath;
  const own = (process.env.PATH ?? "")
    .split(":")
    .filter((dir) => !/node_modules[/\\]\.bin/.test(dir))
    .join(":");
  return (onPath = Bun.which("bun", { PATH: own }) !== null);
}
