/** test/prerequisites.sh, which `npm test` runs first: it asks before installing anything on a terminal. */
import { afterEach, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, run, Terminal } from "./helpers";

let terminal: Terminal | undefined;
afterEach(() => terminal?.stop());

/** A PATH with the shell and apt-get but none of the programs the tests need, so all are missing. */
function pathWithoutPrerequisites(): string {
  const dir = mkdtempSync(join(tmpdir(), "chat-prereq-"));
  for (const program of ["bash", "id", "apt-get", "sudo", "env"]) {
    const found = ["/usr/bin", "/bin"].map((d) => join(d, program)).find(existsSync);
    if (found) symlinkSync(found, join(dir, program));
  }
  return dir;
}

test("on a terminal it asks before apt-get, and 'no' installs nothing and says how to", async () => {
  const dir = pathWithoutPrerequisites();
  try {
    terminal = new Terminal();
    await terminal.start(["env", `PATH=${dir}`, "CI=", "bash", join(ROOT, "test/prerequisites.sh")], {
      columns: 200,
      rows: 10,
    });
    await terminal.waitForScreen("the question", (s) => s.includes("Install them now with") && s.includes("[y/N]"));
    expect(await terminal.screen()).toMatch(/The tests need (tmux|openssl|chromium|redis-server)/);
    await terminal.type("n");
    await terminal.press("Enter");
    expect(await terminal.waitForExit()).toBe(1);
    expect(await terminal.screen()).toContain("Not installed. Install them with");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("without a terminal it does not ask, and with everything there it says nothing", async () => {
  const quiet = await run(["bash", join(ROOT, "test/prerequisites.sh")]);
  expect(quiet).toEqual({ exitCode: 0, stdout: "", stderr: "" });
});
