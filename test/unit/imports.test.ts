/**
 * The shape of the code: no module imports itself through others (type imports included), the
 * benchmark imports nothing of the tests, the chat core loads nothing of Bun's, and the client's
 * session library, which the page shares, nothing of the terminal client's, Bun's or node's.
 */
import { expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const ROOT = join(import.meta.dir, "../..");
const FOLDERS = ["common", "server", "client", "web", "bench", "tools", "test"];

/** Every .ts file of ours, by its path from the root. */
function sources(): string[] {
  const files: string[] = ["server.ts", "client.ts"];
  const walk = (dir: string) => {
    for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith(".ts")) files.push(path);
    }
  };
  for (const folder of FOLDERS) walk(folder);
  return files;
}

/** What `file` imports of ours (relative paths), type imports and re-exports included. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(ROOT, file), "utf8");
  const found: string[] = [];
  for (const [, spec] of text.matchAll(/^(?:import|export)\b[^;]*?\bfrom\s+"(\.{1,2}\/[^"]+)"/gms)) {
    const target = relative(ROOT, resolve(ROOT, dirname(file), spec!));
    found.push(
      target.endsWith(".ts") || target.endsWith(".json") || target.endsWith(".html") ? target : `${target}.ts`,
    );
  }
  return found;
}

test("no import cycles, type imports included", () => {
  const graph = new Map(sources().map((file) => [file, importsOf(file)]));
  const cycles: string[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (file: string, path: string[]) => {
    if (state.get(file) === "done") return;
    if (state.get(file) === "visiting") return void cycles.push([...path.slice(path.indexOf(file)), file].join(" → "));
    state.set(file, "visiting");
    for (const next of graph.get(file) ?? []) if (graph.has(next)) visit(next, [...path, file]);
    state.set(file, "done");
  };
  for (const file of graph.keys()) visit(file, []);
  expect(cycles).toEqual([]);
});

test("the benchmark imports nothing of the tests", () => {
  const offending = sources()
    .filter((file) => file.startsWith("bench/"))
    .flatMap((file) =>
      importsOf(file)
        .filter((target) => target.startsWith("test/"))
        .map((t) => `${file} → ${t}`),
    );
  expect(offending).toEqual([]);
});

test("the chat core loads nothing of Bun's, however indirectly", () => {
  const reached = new Set<string>();
  const bunImports: string[] = [];
  const visit = (file: string) => {
    if (reached.has(file)) return;
    reached.add(file);
    const text = readFileSync(join(ROOT, file), "utf8");
    // A type-only import loads nothing at run time.
    for (const [, spec] of text.matchAll(/^import\s+(?!type\b)[^;]*?from\s+"(bun(?::[a-z]+)?)"/gms))
      bunImports.push(`${file}: ${spec}`);
    for (const [statement, spec] of text.matchAll(/^import\s+[^;]*?from\s+"(\.{1,2}\/[^"]+)"/gms)) {
      if (/^import\s+type\b/.test(statement)) continue;
      const target = relative(ROOT, resolve(ROOT, dirname(file), spec!));
      visit(target.endsWith(".ts") ? target : `${target}.ts`);
    }
  };
  visit("server/chat.ts");
  expect(bunImports).toEqual([]);
});

test("the session library, which runs in browsers, reaches nothing of the terminal client's, Bun's, node's or npm's", () => {
  // Every file it reaches, through any import of ours (type imports too), from client/session/.
  const reached = new Set<string>();
  const visit = (file: string) => {
    if (reached.has(file)) return;
    reached.add(file);
    for (const target of importsOf(file)) visit(target);
  };
  for (const file of sources()) if (file.startsWith("client/session/")) visit(file);
  expect(reached.size).toBeGreaterThan(5); // the walk found the library

  const offending: string[] = [];
  for (const file of reached) {
    if (file.startsWith("client/terminal/")) offending.push(`${file}: part of the terminal client`);
    const text = readFileSync(join(ROOT, file), "utf8");
    // Globals only Bun or node has: the terminal client passes in what needs them (a WebSocket maker).
    for (const [use] of text.matchAll(/\b(?:process|Bun)\s*[.[]|\btypeof\s+(?:process|Bun)\b/g))
      offending.push(`${file}: ${use}`);
    // Nor any module but our own: bun:*, node:*, and the terminal's packages (@clack/…) are not in browsers.
    for (const [, spec] of text.matchAll(/^(?:import|export)\b[^;]*?\bfrom\s+"([^.][^"]*)"/gms))
      offending.push(`${file}: imports ${spec}`);
  }
  expect(offending).toEqual([]);
});

test("no source file is over 420 lines, comments and blank lines included (tests and generated data aside)", () => {
  const long = sources()
    .filter((file) => !file.startsWith("test/") && !file.endsWith(".generated.ts"))
    .map((file) => [file, readFileSync(join(ROOT, file), "utf8").split("\n").length] as const)
    .filter(([, lines]) => lines > 420)
    .map(([file, lines]) => `${file}: ${lines}`);
  expect(long).toEqual([]);
});
