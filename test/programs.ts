/**
 * The programs the tests start and wait for: run() runs one to completion, bounded in time.
 */

import { ROOT } from "../tools/processes";

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
    env: { ...process.env, ...env },
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
