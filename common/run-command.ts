/**
 * How a person starts one of our programs, for the hints the programs print: `bun client.ts`,
 * `npx bun client.ts` for someone who has Bun only from npm (in node_modules, not on their PATH,
 * where `bun` would be "command not found"), or `chat-client` from an executable. No node modules
 * here: the client's connection code, which runs in browsers too, uses it.
 */

/** `client` or `server`: the command that starts it, in the form that works for this person. */
export function runCommand(role: "client" | "server"): string {
  if (typeof Bun !== "undefined" && Bun.main.includes("$bunfs")) return `chat-${role}`;
  return `${bunCommand()} ${role}.ts`;
}

/** `bun`, or `npx bun` when Bun came from npm and is not on the user's own PATH. */
export function bunCommand(): string {
  return typeof Bun === "undefined" || bunOnUsersPath() ? "bun" : "npx bun";
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
