/**
 * The page on a private server (`--guests no`, accounts made by an operator from the command line),
 * in a real headless Chromium against the real server: the name form says the server is for
 * registered accounts only and what to do without one, asks for the account's name and password,
 * refuses a wrong password under the form and asks again, and logs in; the person then speaks and
 * hears themselves. A reload comes back logged in without asking; logged out, the side panel
 * offers "Log in".
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { NO_ACCOUNT } from "../common/account-events";
import { ARTIFACTS, launchChromium, textOf, waitForText } from "./browser";
import { BUN, ROOT, type RunningServer, run, startServer } from "./helpers";

const PASSWORD = "correct-horse-1";
const ACCOUNTS_ONLY = "This server is for registered accounts only";

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(() => browser?.close());

describe("the page on a server for registered accounts only", () => {
  let folder: string;
  let server: RunningServer;
  beforeAll(async () => {
    folder = mkdtempSync(join(tmpdir(), "chat-private-page-"));
    const store = join(folder, "chat.db");
    const made = await run([BUN, join(ROOT, "server.ts"), "accounts", "create", "member", "--store", store], {
      input: `${PASSWORD}\n`,
    });
    expect(made.stdout).toBe("Created the account member.\n");
    server = await startServer(["--guests", "no", "--store", store, "--history", "0"]);
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(folder, { recursive: true, force: true });
  });

  test("the name form asks for the account's name and password, refuses a wrong one, and logs in; a reload comes back logged in", async () => {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto(server.url.replace(/^ws/, "http"));
      await page.fill("#name", "member");
      await page.press("#name", "Enter");
      await page.waitForSelector("#password-field:not([hidden])", { timeout: 15_000 });
      const asked = await textOf(page, "#name-problem");
      expect(asked).toContain(ACCOUNTS_ONLY);
      expect(asked).toContain(NO_ACCOUNT);
      expect(await page.isVisible("#chat")).toBe(false);
      await page.screenshot({ path: join(ARTIFACTS, "page-private.png") });

      // A wrong password: said under the form, which asks again.
      await page.fill("#password", "not-the-password");
      await page.press("#password", "Enter");
      await waitForText(page, "#name-problem", "Wrong name or password.");
      expect(await page.isVisible("#password-field")).toBe(true);
      expect(await page.isVisible("#chat")).toBe(false);

      await page.fill("#password", PASSWORD);
      await page.press("#password", "Enter");
      await page.waitForSelector("#chat:not([hidden]) #status.online", { timeout: 15_000 });
      await waitForText(page, "#account-status", "member ✓ is yours");
      await page.fill("#message", "hello from the private page");
      await page.press("#message", "Enter");
      await waitForText(page, "#log", "hello from the private page");
      // The refusal that asked for the login was the form's to say, not the conversation's.
      expect(await textOf(page, "#log")).not.toContain(ACCOUNTS_ONLY);

      // A reload: in at once, logged in, asked nothing.
      await page.reload();
      await page.waitForSelector("#chat:not([hidden]) #status.online", { timeout: 15_000 });
      await waitForText(page, "#account-status", "member ✓ is yours");
      expect(await page.isVisible("#welcome")).toBe(false);

      // Logged out, the panel says what the server wants, and offers to log in again.
      await page.click("#log-out");
      await waitForText(page, "#account-status", ACCOUNTS_ONLY);
      expect(await page.isVisible("#log-in")).toBe(true);
      expect(await page.isVisible("#keep-name")).toBe(false);
      await page.screenshot({ path: join(ARTIFACTS, "page-private-logged-out.png") });
      await page.click("#log-in");
      await page.waitForSelector("#welcome:not([hidden]) #password-field:not([hidden])", { timeout: 15_000 });
      await page.fill("#password", PASSWORD);
      await page.press("#password", "Enter");
      await waitForText(page, "#account-status", "member ✓ is yours");
    } finally {
      await context.close();
    }
  });

  test("with no name typed, the form says a name is needed and what to do without an account", async () => {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto(server.url.replace(/^ws/, "http"));
      await page.press("#name", "Enter");
      await waitForText(page, "#name-problem", ACCOUNTS_ONLY);
      expect(await textOf(page, "#name-problem")).toContain(NO_ACCOUNT);
      expect(await page.isVisible("#password-field")).toBe(true);
      expect(await page.isVisible("#chat")).toBe(false);

      // Still no name: asked for here, without a trip to the server.
      await page.press("#name", "Enter");
      await waitForText(page, "#name-problem", "type your account's name");

      await page.fill("#name", "stranger");
      await page.fill("#password", PASSWORD);
      await page.press("#password", "Enter");
      await waitForText(page, "#name-problem", "Wrong name or password.");
      expect(await page.isVisible("#chat")).toBe(false);
    } finally {
      await context.close();
    }
  });
});
