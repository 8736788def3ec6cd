/**
 * Logging in on a phone-sized page (390 px wide), in a real headless Chromium against the real
 * server, open to guests and for registered accounts only (--guests no): the masked password field
 * that opens in the message field (`/login tess `) keeps the page inside the screen, Send and all;
 * and "Log in" in the side panel asks in neutral words, keeping the error's red for a real refusal.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { ARTIFACTS, launchChromium, waitForText } from "./browser";
import { parseColour } from "./colour";
import { BUN, jsonClient, ROOT, type RunningServer, run, startServer } from "./helpers";

/** What the callbacks given to page.evaluate and waitForFunction find in the page (see web.test.ts). */
declare const document: {
  documentElement: { scrollWidth: number };
  querySelector(selector: string): { textContent: string | null } | null;
};
declare const getComputedStyle: (element: object) => { color: string; getPropertyValue(name: string): string };

const PASSWORD = "correct-horse-1";
const PHONE = { width: 390, height: 800 };

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(() => browser?.close());

/** A phone-sized page on `server`, in the chat as `name` (logged in to it with PASSWORD if `password`). */
async function joinOnPhone(server: RunningServer, name: string, password: boolean): Promise<Page> {
  const page = await browser.newPage({ viewport: PHONE });
  await page.goto(server.url.replace(/^ws/, "http"));
  await page.fill("#name", name);
  await page.press("#name", "Enter");
  if (password) {
    await page.waitForSelector("#password-field:not([hidden])", { timeout: 15_000 });
    await page.fill("#password", PASSWORD);
    await page.press("#password", "Enter");
    await waitForText(page, "#account-status", `${name} ✓ is yours`);
  }
  await page.waitForSelector("#chat:not([hidden]) #status.online", { timeout: 15_000 });
  return page;
}

/** How wide the page is against the screen, and whether the whole Send button is on it. */
const fit = (page: Page) =>
  page.evaluate(() => {
    const send = document.querySelector("#composer button[type=submit]") as unknown as {
      getBoundingClientRect(): { left: number; right: number; top: number; bottom: number };
    };
    const box = send.getBoundingClientRect();
    return {
      scrollWidth: document.documentElement.scrollWidth,
      sendInside: box.left >= 0 && box.right <= 390 && box.top >= 0 && box.bottom <= 800,
    };
  });

/** Types `/login tess ` key by key: the masked field opens, and the page still fits the phone's screen. */
async function expectMaskedFieldFits(page: Page, screenshot: string): Promise<void> {
  expect(await fit(page)).toEqual({ scrollWidth: 390, sendInside: true });
  await page.focus("#message");
  await page.keyboard.type("/login tess ");
  await page.waitForSelector("#secret:not([hidden])");
  await page.screenshot({ path: join(ARTIFACTS, screenshot) });
  expect(await fit(page)).toEqual({ scrollWidth: 390, sendInside: true });
  expect(await page.isVisible("#secret-command")).toBe(true);

  // The longest name there can be (32 characters): the command gives way, not the page.
  await page.keyboard.press("Escape");
  await page.fill("#message", "");
  await page.keyboard.type(`/login ${"w".repeat(32)} `);
  await page.waitForSelector("#secret:not([hidden])");
  expect(await fit(page)).toEqual({ scrollWidth: 390, sendInside: true });
}

/** The colour of the line under the name form, and the page's colour for errors (--error), as 0-255 channels. */
const problemColours = (page: Page) =>
  page
    .evaluate(() => {
      const line = document.querySelector("#name-problem") as object;
      return { line: getComputedStyle(line).color, error: getComputedStyle(line).getPropertyValue("--error") };
    })
    .then(({ line, error }) => ({ line: parseColour(line), error: parseColour(error) }));

/** Logs out from the side panel's drawer, clicks "Log in": the form asks without an error's red; a wrong password is red. */
async function expectNeutralLogIn(page: Page, name: string, screenshot: string): Promise<void> {
  await page.click("#drawer-toggle");
  await page.click("#log-out");
  await page.waitForFunction(() => !document.querySelector("#account-status")?.textContent?.includes("is yours"), {
    timeout: 15_000,
  });
  await page.click("#log-in", { timeout: 15_000 });
  await page.waitForSelector("#welcome:not([hidden]) #password-field:not([hidden])", { timeout: 15_000 });
  await page.screenshot({ path: join(ARTIFACTS, screenshot) });
  expect(await page.textContent("#name-problem")).not.toBe("");
  const asked = await problemColours(page);
  expect(asked.line).not.toEqual(asked.error);
  expect(await fit(page).then(({ scrollWidth }) => scrollWidth)).toBe(390);

  await page.fill("#password", "not-the-password");
  await page.press("#password", "Enter");
  await waitForText(page, "#name-problem", "Wrong name or password.");
  const refused = await problemColours(page);
  expect(refused.line).toEqual(refused.error);

  await page.fill("#password", PASSWORD);
  await page.press("#password", "Enter");
  await waitForText(page, "#account-status", `${name} ✓ is yours`);
}

describe("logging in on a phone, on a server open to guests", () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer(["--history", "0", "--name-grace", "0"]);
    const { socket } = await jsonClient(server, "?name=phoney");
    socket.send(JSON.stringify({ type: "register", password: PASSWORD }));
    await socket.waitForEvent("phoney registered", (e) => e.type === "account" && e.name === "phoney");
    socket.close();
  });
  afterAll(() => server.stop());

  test("the masked password field of `/login tess ` keeps the page 390 px wide, Send in view", async () => {
    const page = await joinOnPhone(server, "walker", false);
    try {
      await expectMaskedFieldFits(page, "page-phone-secret.png");
    } finally {
      await page.close();
    }
  });

  test("after Log out, Log in asks in neutral words; a wrong password is said as an error", async () => {
    const page = await joinOnPhone(server, "phoney", true);
    try {
      await expectNeutralLogIn(page, "phoney", "page-phone-log-in.png");
    } finally {
      await page.close();
    }
  });
});

describe("logging in on a phone, on a server for registered accounts only", () => {
  let folder: string;
  let server: RunningServer;
  beforeAll(async () => {
    folder = mkdtempSync(join(tmpdir(), "chat-phone-page-"));
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

  test("the masked password field of `/login tess ` keeps the page 390 px wide, Send in view", async () => {
    const page = await joinOnPhone(server, "member", true);
    try {
      await expectMaskedFieldFits(page, "page-phone-private-secret.png");
    } finally {
      await page.close();
    }
  });

  test("after Log out, Log in asks in neutral words; a wrong password is said as an error", async () => {
    const page = await joinOnPhone(server, "member", true);
    try {
      await expectNeutralLogIn(page, "member", "page-phone-private-log-in.png");
    } finally {
      await page.close();
    }
  });
});
