/**
 * The README's API section, run as written: its set-up done the way it says (a key made with
 * `keys add` on a --store file, the server on that file, ana in dev), then every `$ curl …` line
 * of its console blocks run by sh with $KEY set and the port put in place of 2000, and what each
 * printed compared with what the README shows, times, ids and port numbers aside. A stream (`-N`)
 * runs in the background; the block after "Meanwhile" runs while it does.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BUN, PROGRAM_ENV, pipeClient, ROOT, type RunningServer, run, startServer, waitFor } from "./helpers";

const dir = mkdtempSync(join(tmpdir(), "chat-readme-api-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Example {
  command: string;
  output: string;
  /** The prose before its block says it runs while the stream before it does. */
  meanwhile: boolean;
}

/** The console blocks of the README's API section, as commands and what each printed. */
function examples(): Example[] {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("\n## API\n"), readme.indexOf("\n## ", readme.indexOf("\n## API\n") + 1));
  const found: Example[] = [];
  let prose = "";
  for (const [index, part] of section.split(/^```/m).entries()) {
    if (index % 2 === 0) {
      prose = part;
      continue;
    }
    if (!part.startsWith("console\n")) continue;
    let meanwhile = /Meanwhile/.test(prose);
    for (const chunk of part.slice("console\n".length).split(/^\$ /m).slice(1)) {
      const [command, ...output] = chunk.split("\n");
      found.push({ command: command!, output: output.join("\n"), meanwhile });
      meanwhile = false;
    }
  }
  return found;
}

/** What differs from run to run: times, the ids the server makes, port numbers. */
const settled = (text: string) =>
  text
    .replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/g, "TIME")
    .replace(/api-[A-Za-z0-9_-]{12}|\b[0-9a-f]{32}\b/g, "ID")
    .replace(/127\.0\.0\.1:\d+/g, "127.0.0.1:PORT")
    .trimEnd();

test("every curl example of the README's API section runs as written and prints what the README shows", async () => {
  const all = examples();
  expect(all.length).toBeGreaterThanOrEqual(8);
  const store = join(dir, "chat.db");
  // KEY=$(bun server.ts keys add ci --store chat.db)
  const added = await run([BUN, join(ROOT, "server.ts"), "keys", "add", "ci", "--store", store]);
  expect(added.exitCode).toBe(0);
  const env = { ...PROGRAM_ENV, KEY: added.stdout.trim() } as Record<string, string>;
  let server: RunningServer | undefined;
  const ana = { client: undefined as ReturnType<typeof pipeClient> | undefined };
  try {
    server = await startServer(["--store", store]);
    ana.client = pipeClient(["--name", "ana", "--room", "dev", server.url]);
    await server.waitForLog(/ana \(127\.0\.0\.1:\d+\) joined dev/);
    const port = String(server.port);
    const shell = (command: string) => ["sh", "-c", command.replaceAll("127.0.0.1:2000", `127.0.0.1:${port}`)];
    for (let i = 0; i < all.length; i++) {
      const example = all[i]!;
      if (!example.command.includes(" -sN ")) {
        const done = await run(shell(example.command), { env });
        expect({ command: example.command, output: settled(done.stdout) }).toEqual({
          command: example.command,
          output: settled(example.output),
        });
        continue;
      }
      // A stream: in the background, until it has printed as many lines as the README shows.
      const stream = Bun.spawn(shell(example.command), { env, stdout: "pipe", stderr: "inherit" });
      let printed = "";
      void (async () => {
        for await (const chunk of stream.stdout) printed += new TextDecoder().decode(chunk);
      })();
      try {
        await waitFor(`${example.command} to start`, () => (printed.includes('"ready"') ? true : undefined));
        const next = all[i + 1];
        if (next?.meanwhile) {
          const done = await run(shell(next.command), { env });
          expect(settled(done.stdout)).toEqual(settled(next.output));
          i++;
        }
        const lines = settled(example.output).split("\n").length;
        await waitFor(`${example.command} to print ${lines} lines; it printed: ${printed}`, () =>
          settled(printed).split("\n").length >= lines ? true : undefined,
        );
        expect({ command: example.command, output: settled(printed) }).toEqual({
          command: example.command,
          output: settled(example.output),
        });
      } finally {
        stream.kill("SIGKILL");
        await stream.exited;
      }
    }
  } finally {
    ana.client?.proc.kill("SIGKILL");
    await server?.stop();
  }
});
