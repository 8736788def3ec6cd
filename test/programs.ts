/**
 * The programs the tests start, and the PATH they start them with. Our programs name themselves in
 * their hints as `bun server.ts` when Bun is on the user's own PATH and `npx bun server.ts` when it
 * came from npm only (common/run-command.ts). The tests decide which, rather than the machine: every
 * program gets PROGRAM_PATH, which has a `bun` (test/bin/bun) in front of the tests' own PATH, so
 * RUN is `bun ...` with or without a Bun installed; NPM_ONLY_PATH, with no `bun` but the one in
 * node_modules/.bin, is for the tests of the other case.
 */

import { join } from "node:path";
import { ROOT } from "../tools/processes";

/** A PATH whose first `bun` is test/bin/bun, with the tests' own after it (tmux, redis-server, node). */
export const PROGRAM_PATH = `${join(ROOT, "test", "bin")}:${process.env.PATH ?? ""}`;
/** A PATH where Bun came from npm only: node_modules/.bin and nothing else, so no other `bun`. */
export const NPM_ONLY_PATH = join(ROOT, "node_modules", ".bin");
/** The environment the tests start programs with: their own, with PROGRAM_PATH. */
export const PROGRAM_ENV: Record<string, string | undefined> = { ...process.env, PATH: PROGRAM_PATH };
/** How our programs name themselves in their messages, started with PROGRAM_PATH. */
export const RUN = { server: "bun server.ts", client: "bun client.ts", bun: "bun" };

export interface Finished {
  exitCode: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion with `input` on stdin; kills it if it outlives `timeoutMs`. */
export async function run(
  command: string[],
  {
    input = "",
    cwd = ROOT,
    timeoutMs = 15_000,
    env,
  }: { input?: string; cwd?: string; timeoutMs?: number; env?: Record<string, string> } = {},
): Promise<Finished> {
  const proc = Bun.spawn(command, {
    cwd,
    stdin: new TextEncoder().encode(input),
    stdout: "pipe",
    stderr: "pipe",
    env: { ...PROGRAM_ENV, ...env },
  });
  const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
  const [stdout, stderr, exitCode] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  clearTimeout(timer);
  return { exitCode, stdout, stderr };
}
