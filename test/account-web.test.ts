/**
 * Registered names on the page, in a real headless Chromium against the real server: the name
 * form asks for a registered name's password, the browser keeps the session token for the next
 * visit (which joins logged in without a click), "Keep this name" registers, "Log out" forgets,
 * "Log in" asks again in the name form, and a password typed on a command line is never shown.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { ARTIFACTS, launchChromium, textOf, waitForText } from "./browser";
import { jsonClient, type RunningServer, registerName, startServer } from "./helpers";

/** What the callbacks given to page.evaluate and waitForFunction find in the page (see web.test.ts). */
declare const document: {
  querySelector(selector: string): { textContent: string | null } | null;
  body: { textContent: string | null };
};
declare const localStorage: { getItem(key: string): string | null; setItem(key: string, value: string): void };
declare const location: { origin: string };

const PASSWORD = "correct-horse-1";

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(() => browser?.close());

const register = (server: RunningServer, name: string) => registerName(server, name, PASSWORD);

/** The page of `context` (a browser profile: its pages share localStorage), opened on the chat. */
async function open(context: BrowserContext, server: RunningServer): Promise<Page> {
  const page = await context.newPage();
  await page.goto(server.url.replace(/^ws/, "http"));
  return page;
}

const keptLogin = (page: Page) =>
  page.evaluate(() => JSON.parse(localStorage.getItem(`chat.login@${location.origin}`) ?? "null"));

describe("registered names on the page", () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer(["--history", "0", "--name-grace", "0"]);
  });
  afterAll(() => server.stop());

  test("a registered name asks for its password and logs in; the next visit logs in without it", async () => {
    await register(server, "pagey");
    const context = await browser.newContext();
    try {
      const page = await open(context, server);
      await page.fill("#name", "pagey");
      await page.press("#name", "Enter");
      await page.waitForSelector("#password-field:not([hidden])", { timeout: 8_000 });
      await page.screenshot({ path: join(ARTIFACTS, "page-password.png") });
      expect(await textOf(page, "#name-problem")).toBe(
        "pagey is a registered name: type its password to log in, or choose another name.",
      );

      // A wrong password: the form stays, says so, and asks again.
      await page.fill("#password", "not-the-password");
      await page.press("#password", "Enter");
      await waitForText(page, "#name-problem", "Wrong name or password.");
      expect(await page.isVisible("#welcome")).toBe(true);
      expect(await page.isVisible("#password-field")).toBe(true);

      await page.fill("#password", PASSWORD);
      await page.press("#password", "Enter");
      await page.waitForSelector("#status.online");
      await waitForText(page, "#account-status", "pagey ✓ is yours");
      await waitForText(page, "#members", "pagey✓ (127.0.0.1:");
      const kept = await keptLogin(page);
      expect(kept).toEqual({ name: "pagey", token: expect.any(String) });
      await page.close();

      // The next visit, in the same browser: it joins logged in, asking for nothing.
      const again = await open(context, server);
      await again.waitForSelector("#status.online", { timeout: 15_000 });
      expect(await again.isVisible("#password-field")).toBe(false);
      await waitForText(again, "#account-status", "pagey ✓ is yours");
    } finally {
      await context.close();
    }
  });

  test("logged in here while the same account is connected elsewhere: the list has the person once, ×2", async () => {
    await register(server, "twofold");
    const { socket: elsewhere } = await jsonClient(server, "");
    elsewhere.send(JSON.stringify({ type: "login", name: "twofold", password: PASSWORD }));
    await elsewhere.waitForEvent("logged in elsewhere", (e) => e.type === "account" && e.name === "twofold");
    const context = await browser.newContext();
    try {
      const page = await open(context, server);
      await page.fill("#name", "twofold");
      await page.press("#name", "Enter");
      await page.waitForSelector("#password-field:not([hidden])", { timeout: 8_000 });
      await page.fill("#password", PASSWORD);
      await page.press("#password", "Enter");
      await waitForText(page, "#account-status", "twofold ✓ is yours");
      await waitForText(page, "#members", "×2");
      const entries = await page.$$eval("#members li", (items) => items.map((item) => item.textContent ?? ""));
      expect(entries.filter((entry) => entry.includes("twofold"))).toEqual([expect.stringMatching(/×2.*· you$/)]);
    } finally {
      await context.close();
      elsewhere.close();
    }
  });

  test("Keep this name registers with a password typed twice; others see the mark; Log out forgets the token", async () => {
    const context = await browser.newContext();
    const watcherContext = await browser.newContext();
    try {
      const page = await open(context, server);
      await page.fill("#name", "keepsake");
      await page.press("#name", "Enter");
      await page.waitForSelector("#status.online");
      await waitForText(page, "#account-status", "Anyone may take keepsake once you leave.");

      // /register typed alone opens the form: a password goes in a password field, not the message field.
      await page.fill("#message", "/register");
      await page.press("#message", "Enter");
      await page.waitForSelector("#keep-form:not([hidden])");
      expect(await page.inputValue("#message")).toBe("");
      await page.click("#keep-cancel");
      expect(await page.isVisible("#keep-form")).toBe(false);

      await page.click("#keep-name");
      await page.screenshot({ path: join(ARTIFACTS, "page-keep-name.png") });
      await page.fill("#new-password", "short");
      await page.fill("#new-password-again", "short");
      await page.click("#keep-form button[type=submit]");
      expect(await textOf(page, "#keep-problem")).toBe("A password needs 8 characters or more.");
      await page.fill("#new-password", PASSWORD);
      await page.fill("#new-password-again", `${PASSWORD}x`);
      await page.click("#keep-form button[type=submit]");
      expect(await textOf(page, "#keep-problem")).toBe("The two passwords differ: type the same one twice.");
      await page.fill("#new-password-again", PASSWORD);
      await page.click("#keep-form button[type=submit]");
      await waitForText(page, "#account-status", "keepsake ✓ is yours");
      expect(await page.isVisible("#keep-form")).toBe(false);
      await page.screenshot({ path: join(ARTIFACTS, "page-account.png") });
      expect(await keptLogin(page)).toEqual({ name: "keepsake", token: expect.any(String) });
      await waitForText(page, "#members", "keepsake✓ (127.0.0.1:");
      await waitForText(page, "#log", "Logged in as keepsake; this browser stays logged in");

      const watcher = await open(watcherContext, server);
      await watcher.fill("#name", "watcher");
      await watcher.press("#name", "Enter");
      await watcher.waitForSelector("#status.online");
      await waitForText(watcher, "#members", "keepsake✓ (127.0.0.1:");

      await page.click("#log-out");
      await page.waitForFunction(() => !document.querySelector("#account-status")?.textContent?.includes("is yours"));
      expect(await keptLogin(page)).toBeNull();
      expect(await page.isVisible("#log-out")).toBe(false);
    } finally {
      await context.close();
      await watcherContext.close();
    }
  });
});

describe("logging in again on the page", () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer(["--history", "0", "--name-grace", "0"]);
  });
  afterAll(() => server.stop());

  /** Joins as `name`, registered, with its password typed in the name form. */
  async function joinLoggedIn(page: Page, name: string): Promise<void> {
    await page.fill("#name", name);
    await page.press("#name", "Enter");
    await page.waitForSelector("#password-field:not([hidden])", { timeout: 15_000 });
    await page.fill("#password", PASSWORD);
    await page.press("#password", "Enter");
    await waitForText(page, "#account-status", `${name} ✓ is yours`);
  }

  test("after Log out, Log in asks for the name and password in the name form and logs in", async () => {
    await register(server, "comeback");
    const context = await browser.newContext();
    try {
      const page = await open(context, server);
      await joinLoggedIn(page, "comeback");
      await page.click("#log-out");
      await page.waitForFunction(() => !document.querySelector("#account-status")?.textContent?.includes("is yours"), {
        timeout: 15_000,
      });
      expect(await page.isVisible("#log-out")).toBe(false);

      await page.click("#log-in", { timeout: 15_000 });
      await page.waitForSelector("#welcome:not([hidden]) #password-field:not([hidden])", { timeout: 15_000 });
      expect(await page.isVisible("#chat")).toBe(false);
      expect(await page.inputValue("#name")).toBe("comeback");
      await page.screenshot({ path: join(ARTIFACTS, "page-log-in.png") });

      // A wrong password: the form says so, and asks again.
      await page.fill("#password", "not-the-password");
      await page.press("#password", "Enter");
      await waitForText(page, "#name-problem", "Wrong name or password.");
      expect(await page.isVisible("#chat")).toBe(false);

      await page.fill("#password", PASSWORD);
      await page.press("#password", "Enter");
      await page.waitForSelector("#chat:not([hidden])", { timeout: 15_000 });
      await waitForText(page, "#account-status", "comeback ✓ is yours");
      expect(await page.isVisible("#welcome")).toBe(false);
      expect(await keptLogin(page)).toEqual({ name: "comeback", token: expect.any(String) });
      expect(await page.isVisible("#log-out")).toBe(true);
    } finally {
      await context.close();
    }
  });

  test("a reload with a kept login joins logged in without a click; a refused one is forgotten; a guest still clicks", async () => {
    await register(server, "returner");
    const context = await browser.newContext();
    const guestContext = await browser.newContext();
    try {
      const page = await open(context, server);
      await joinLoggedIn(page, "returner");

      await page.reload();
      await page.waitForSelector("#status.online", { timeout: 15_000 });
      await waitForText(page, "#account-status", "returner ✓ is yours");
      expect(await page.isVisible("#welcome")).toBe(false);

      // A token the server does not take: forgotten, and the name form asks for the password.
      await page.evaluate(() =>
        localStorage.setItem(`chat.login@${location.origin}`, JSON.stringify({ name: "returner", token: "ended" })),
      );
      await page.reload();
      await waitForText(page, "#name-problem", "This browser's login to returner has ended");
      expect(await page.isVisible("#password-field")).toBe(true);
      expect(await page.isVisible("#chat")).toBe(false);
      expect(await keptLogin(page)).toBeNull();

      // A guest (no login kept) is asked again after a reload, as before: the name filled in, a click to join.
      const guest = await open(guestContext, server);
      await guest.fill("#name", "wanderer");
      await guest.press("#name", "Enter");
      await guest.waitForSelector("#status.online", { timeout: 15_000 });
      await guest.reload();
      await guest.waitForSelector("#welcome:not([hidden])");
      expect(await guest.inputValue("#name")).toBe("wanderer");
      await guest.waitForTimeout(1_500);
      expect(await guest.isVisible("#chat")).toBe(false);
    } finally {
      await context.close();
      await guestContext.close();
    }
  });

  test("a password typed on a command line is never shown: the rest of the line goes to a masked field", async () => {
    const secret = "qzx-secret-77";
    const { socket } = await jsonClient(server, "?name=hider");
    socket.send(JSON.stringify({ type: "register", password: secret }));
    await socket.waitForEvent("hider registered", (e) => e.type === "account" && e.name === "hider");
    socket.close();
    const context = await browser.newContext();
    try {
      const page = await open(context, server);
      await page.fill("#name", "typist");
      await page.press("#name", "Enter");
      await page.waitForSelector("#status.online", { timeout: 15_000 });

      /** Types `line` key by key; after each key, no part of the password is in view or in the message field. */
      async function typeWatching(line: string, shownUpTo: string): Promise<void> {
        for (const [typed, key] of [...line].entries()) {
          await page.keyboard.type(key);
          const seen = await page.evaluate(() => ({
            message: (document.querySelector("#message") as unknown as { value: string }).value,
            secretType: (document.querySelector("#secret") as unknown as { type: string } | null)?.type,
            text: document.body.textContent,
          }));
          expect(shownUpTo.startsWith(seen.message)).toBe(true);
          expect(seen.text).not.toContain("qzx");
          if (typed >= shownUpTo.length) expect(seen.secretType).toBe("password");
        }
      }

      await page.focus("#message");
      await typeWatching(`/login hider ${secret}`, "/login hider ");
      expect(await page.isVisible("#secret")).toBe(true);
      expect(await textOf(page, "#secret-command")).toBe("/login hider");
      await page.screenshot({ path: join(ARTIFACTS, "page-secret.png") });
      await page.keyboard.press("Enter");
      await waitForText(page, "#account-status", "hider ✓ is yours");
      expect(await page.isVisible("#message")).toBe(true);
      expect(await page.inputValue("#message")).toBe("");

      // Two passwords on one line, and a whole line pasted at once.
      await typeWatching(`/password ${secret} qzx-newer-88`, "/password ");
      await page.keyboard.press("Enter");
      await waitForText(page, "#log", "Your password is changed");
      await page.fill("#message", "/unregister qzx-newer-88");
      expect(await page.inputValue("#message")).toBe("");
      expect(await page.evaluate(() => document.body.textContent)).not.toContain("qzx");
      await page.keyboard.press("Enter");
      await page.waitForFunction(() => !document.querySelector("#account-status")?.textContent?.includes("is yours"), {
        timeout: 15_000,
      });
      expect(await page.evaluate(() => document.body.textContent)).not.toContain("qzx");
    } finally {
      await context.close();
    }
  });
});
