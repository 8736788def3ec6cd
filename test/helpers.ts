/**
 * What the tests share: the real server and client started as processes on free ports, and
 * (re-exported) bounded waits, free ports and redis-server (tools/processes.ts, shared with the
 * benchmark), run() and the PATH the programs get (programs.ts), test WebSocket clients over real
 * sockets (sockets.ts) and a real terminal (tmux) to drive the interactive client (terminal.ts).
 * Every wait is bounded in time; every process started here is stopped by its pid.
 */

import { Database } from "bun:sqlite";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { BUN, diesWithUs, ROOT, waitFor } from "../tools/processes";
import { PROGRAM_ENV } from "./programs";

/** Reads a process's stream into a growing string, so tests can look at it while it runs. */
function collect(stream: ReadableStream<Uint8Array>): { text: string; done: Promise<void> } {
  const sink = { text: "", done: Promise.resolve() };
  const decoder = new TextDecoder();
  sink.done = (async () => {
    for await (const chunk of stream) sink.text += decoder.decode(chunk, { stream: true });
  })();
  return sink;
}

export interface RunningServer {
  process: Subprocess<"ignore", "pipe", "pipe">;
  port: number;
  url: string;
  /** Everything the server has printed on stdout so far. */
  log(): string;
  stderr(): string;
  /** Waits for a line matching `pattern` in the log; returns its match. */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  stop(): Promise<void>;
}

/**
 * Starts `bun server.ts --port 0 ...args` (or another command) and waits for its URL. With PORT in
 * `env`, the port comes from there instead of the flag.
 */
export async function startServer(
  args: string[] = [],
  {
    command = [BUN, join(ROOT, "server.ts")],
    env = {},
    cwd = ROOT,
  }: { command?: string[]; env?: Record<string, string>; cwd?: string } = {},
): Promise<RunningServer> {
  const portArgs = "PORT" in env ? [] : ["--port", "0"];
  const proc = Bun.spawn(diesWithUs([...command, ...portArgs, ...args]), {
    cwd,
    env: { ...PROGRAM_ENV, ...env },
    stdout: "pipe",
    stderr: "pipe",
    stdin: "ignore",
  });
  const stdout = collect(proc.stdout);
  const stderr = collect(proc.stderr);
  const server: RunningServer = {
    process: proc,
    port: 0,
    url: "",
    log: () => stdout.text,
    stderr: () => stderr.text,
    waitForLog: (pattern, timeoutMs) =>
      waitFor(`server log line ${pattern}`, () => stdout.text.match(pattern) ?? undefined, timeoutMs),
    async stop() {
      proc.kill("SIGKILL");
      await proc.exited;
    },
  };
  try {
    const [, url, port] = await waitFor(
      "the server to listen",
      () => {
        if (proc.exitCode !== null) throw new Error(`server exited ${proc.exitCode}: ${stderr.text}`);
        return stdout.text.match(/Listening on (wss?:\/\/\S+:(\d+))\n/) ?? undefined;
      },
      10_000,
    );
    server.url = url!;
    server.port = Number(port);
  } catch (error) {
    await server.stop();
    throw error;
  }
  return server;
}

/** A client process in pipe mode whose stdin stays open; its output is collected as it comes. */
export function pipeClient(args: string[], command = [BUN, join(ROOT, "client.ts")]) {
  const proc = Bun.spawn([...command, ...args], { stdin: "pipe", stdout: "pipe", stderr: "pipe", env: PROGRAM_ENV });
  const out = { stdout: "", stderr: "" };
  const decoder = () => new TextDecoder();
  void (async () => {
    const d = decoder();
    for await (const chunk of proc.stdout) out.stdout += d.decode(chunk, { stream: true });
  })();
  void (async () => {
    const d = decoder();
    for await (const chunk of proc.stderr) out.stderr += d.decode(chunk, { stream: true });
  })();
  return {
    proc,
    out,
    write: (line: string) => proc.stdin.write(`${line}\n`),
    waitForOutput: (what: string, check: (stdout: string) => boolean, timeoutMs = 8_000) =>
      waitFor(
        () => `${what}; stdout so far: ${out.stdout}; stderr: ${out.stderr}`,
        () => (check(out.stdout) ? true : undefined),
        timeoutMs,
      ),
    waitForStderr: (what: string, check: (stderr: string) => boolean, timeoutMs = 8_000) =>
      waitFor(
        () => `${what}; stderr so far: ${out.stderr}`,
        () => (check(out.stderr) ? true : undefined),
        timeoutMs,
      ),
  };
}

/**
 * Waits until the server's --store file holds a message with `text`: the store writes in batches
 * (every 50 ms), and a test about to SIGKILL the server must not kill it before the write.
 */
export function waitForStored(store: string, text: string, timeoutMs = 5_000): Promise<true> {
  return waitFor(
    `'${text}' written to ${store}`,
    () => {
      let db: Database | undefined;
      try {
        db = new Database(store, { readonly: true });
        return db.query("SELECT 1 FROM events WHERE text = ?").get(text) ? true : undefined;
      } catch {
        return undefined; // Not created yet, or busy: asked again.
      } finally {
        db?.close();
      }
    },
    timeoutMs,
  );
}

export * from "../tools/processes";
export * from "./programs";
export * from "./sockets";
export * from "./terminal";
