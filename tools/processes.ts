/**
 * What the tests and the benchmark both need to run local processes: the repository's root, the Bun
 * to run our programs with, bounded waits, a free port, and a redis-server of one's own. It lives
 * outside test/ and bench/ so that neither depends on the other; test/helpers.ts re-exports it.
 * Every wait is bounded in time; every process started here is stopped by its pid.
 */

import { join } from "node:path";

export const ROOT = join(import.meta.dir, "..");
/** The Bun running the tests (or the benchmark) runs the programs too. */
export const BUN = process.execPath;

/** Waits until `check` returns a value other than undefined, polling; fails after `timeoutMs`. */
export async function waitFor<T>(
  what: string | (() => string),
  check: () => T | undefined,
  timeoutMs = 5_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${typeof what === "string" ? what : what()}`);
    await Bun.sleep(20);
  }
}

/** A TCP port on 127.0.0.1 that nothing listens on (it was free a moment ago). */
export function unusedPort(): number {
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = listener.port;
  listener.stop(true);
  return port;
}

/** util-linux's setpriv, on every Debian machine (Linux only). */
const SETPRIV = Bun.which("setpriv");

/**
 * `command`, made to die with the process that starts it (Linux's parent-death signal, set by
 * setpriv, which then execs the command: its pid stays the command's), so that a test run stopped
 * with Ctrl-C leaves no redis-server or chat server behind. Without setpriv, the command as it is.
 */
export function diesWithUs(command: string[]): string[] {
  return SETPRIV ? [SETPRIV, "--pdeathsig", "KILL", ...command] : command;
}

/**
 * A redis-server (Debian's) of the caller's own on `port`, saving nothing to disk; in the
 * foreground, so that its pid is the server's and stop() kills it, and dying with the caller.
 * `wrap` may prefix its command (the benchmark pins it to a core with taskset).
 */
export async function startRedis(port = unusedPort(), wrap: (command: string[]) => string[] = (command) => command) {
  const proc = Bun.spawn(
    diesWithUs(
      wrap(["redis-server", "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]),
    ),
    { stdout: "ignore", stderr: "ignore" },
  );
  await waitFor("redis-server to answer", () => {
    if (proc.exitCode !== null) throw new Error(`redis-server exited with ${proc.exitCode}`);
    const ping = Bun.spawnSync(["redis-cli", "-p", String(port), "PING"]);
    return ping.stdout.toString().trim() === "PONG" ? true : undefined;
  });
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    pid: proc.pid,
    async stop() {
      proc.kill("SIGKILL");
      await proc.exited;
    },
  };
}
export type RunningRedis = Awaited<ReturnType<typeof startRedis>>;
