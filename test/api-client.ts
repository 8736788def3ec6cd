/**
 * The HTTP API as the tests use it, over real sockets: a key file for a server, a request with a
 * key, and an event stream read as it comes (EventStreamReader), parsed as a client of the
 * standard would (an `id:` and a `data:` per event, blank-line separated, comments skipped).
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { waitFor } from "../tools/processes";
import type { WireEvent } from "./sockets";

/** A key for the tests' --api-keys files. */
export const KEY = "test-key-0123456789abcdef";

/** Writes an --api-keys file of `NAME KEY` lines into `dir`; returns its path. */
export function keyFile(dir: string, keys: Record<string, string> = { ci: KEY }): string {
  const file = join(dir, `keys-${Math.random().toString(36).slice(2)}.txt`);
  writeFileSync(
    file,
    `# name key\n${Object.entries(keys)
      .map(([name, key]) => `${name} ${key}`)
      .join("\n")}\n`,
  );
  return file;
}

/** An answer of the API, whose JSON the tests assert the shape of. */
export type ApiAnswer = Omit<Response, "json"> & { json(): Promise<WireEvent> };

/** A request to the API of the server on `port`, with `key` (none when null). */
export function api(
  port: number,
  path: string,
  {
    key = KEY,
    method = "GET",
    body,
    headers = {},
  }: { key?: string | null; method?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<ApiAnswer> {
  return fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: { ...(key !== null && { Authorization: `Bearer ${key}` }), ...headers },
    ...(body !== undefined && { body: typeof body === "string" ? body : JSON.stringify(body) }),
  }) as Promise<ApiAnswer>;
}

/** One event of a stream: its id (the last one given, as a client keeps it) and its data, parsed. */
export interface StreamEvent {
  id: string | undefined;
  data: WireEvent;
}

/** An event stream (GET /api/events) read as it comes; closed by the test. */
export class EventStreamReader {
  text = "";
  status = 0;
  ended = false;
  readonly #abort = new AbortController();

  private constructor() {}

  static async open(port: number, query: string, headers: Record<string, string> = {}, key = KEY) {
    const reader = new EventStreamReader();
    const answer = await fetch(`http://127.0.0.1:${port}/api/events${query}`, {
      headers: { Authorization: `Bearer ${key}`, ...headers },
      signal: reader.#abort.signal,
    });
    reader.status = answer.status;
    void (async () => {
      const decoder = new TextDecoder();
      try {
        for await (const chunk of answer.body!) reader.text += decoder.decode(chunk, { stream: true });
      } catch {
        // Aborted by the test, or cut by the server: `ended` says so either way.
      }
      reader.ended = true;
    })();
    return reader;
  }

  /** The events so far, as the standard's parser gives them (the last id carried onto each). */
  get events(): StreamEvent[] {
    const events: StreamEvent[] = [];
    let id: string | undefined;
    for (const block of this.text.split("\n\n").slice(0, -1)) {
      let data: string | undefined;
      for (const line of block.split("\n")) {
        if (line.startsWith("id: ")) id = line.slice(4);
        else if (line.startsWith("data: ")) data = line.slice(6);
      }
      if (data !== undefined) events.push({ id, data: JSON.parse(data) });
    }
    return events;
  }

  /** The id a client would send back as Last-Event-ID. */
  get lastId(): string | undefined {
    return this.events.at(-1)?.id;
  }

  waitForEvent(what: string, check: (event: StreamEvent) => boolean, timeoutMs = 5_000): Promise<StreamEvent> {
    return waitFor(
      () => `${what}; the stream so far: ${this.text.slice(-600)}`,
      () => this.events.find(check),
      timeoutMs,
    );
  }

  close(): void {
    this.#abort.abort();
  }
}
