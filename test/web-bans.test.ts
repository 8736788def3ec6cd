/**
 * Moderation on the page, in a real headless Chromium against the real server (with --ops, a
 * --store file, and X-Forwarded-For trusted from 127.0.0.1, so that each browser profile is a person
 * of its own address): a person's menu only starts the command in the field, for the moderator to
 * finish; a banned person is told the ban's words, on the spot and when coming back, and is offered
 * neither a retry nor the people; someone made a moderator is told so.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { ARTIFACTS, launchChromium, waitForText } from "./browser";
import { type RunningServer, registerName, startServer } from "./helpers";

const PASSWORD = "correct-horse-1";

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(() => browser?.close());

const register = (server: RunningServer, name: string) => registerName(server, name, PASSWORD);

declare const localStorage: { getItem(key: string): string | null };
declare const location: { origin: string };

/** A browser profile coming from `address` (the server trusts the header from 127.0.0.1). */
const personAt = (address: string) => browser.newContext({ extraHTTPHeaders: { "X-Forwarded-For": address } });

/** The chat in a new page of `context`, joined as `name`, with `password` if it is registered. */
async function joinAs(context: BrowserContext, server: RunningServer, name: string, password?: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto(server.url.replace(/^ws/, "http"));
  await page.fill("#name", name);
  await page.press("#name", "Enter");
  if (password !== undefined) {
    await page.waitForSelector("#password-field:not([hidden])", { timeout: 8_000 });
    await page.fill("#password", password);
    await page.press("#password", "Enter");
  }
  await page.waitForSelector("#status.online", { timeout: 8_000 });
  return page;
}

const logText = (page: Page) => page.$$eval("#log li", (items) => items.map((li) => li.textContent ?? "").join("\n"));

describe("moderation on the page", () => {
  let server: RunningServer;
  let folder: string;
  const contexts: BrowserContext[] = [];
  beforeAll(async () => {
    folder = mkdtempSync(join(tmpdir(), "chat-page-bans-"));
    server = await startServer([
      "--store",
      join(folder, "chat.db"),
      "--ops",
      "root",
      "--trust-proxy",
      "127.0.0.1",
      "--history",
      "0",
    ]);
    await register(server, "root");
  });
  afterAll(async () => {
    for (const context of contexts) await context.close();
    await server.stop();
    rmSync(folder, { recursive: true, force: true });
  });

  /** root's page, logged in, an operator: a moderator of every room. */
  async function operatorPage(address: string): Promise<Page> {
    const context = await personAt(address);
    contexts.push(context);
    const root = await joinAs(context, server, "root", PASSWORD);
    await root.waitForSelector("#chat.moderator", { timeout: 8_000 });
    return root;
  }

  /** A guest's page from `address`, and the page of root, who sees the guest in the list. */
  async function guestAndOperator(name: string, address: string): Promise<{ guest: Page; root: Page }> {
    const root = await operatorPage("198.51.100.1");
    const context = await personAt(address);
    contexts.push(context);
    const guest = await joinAs(context, server, name);
    await waitForText(root, "#members", `${name} (${address}:`);
    return { guest, root };
  }

  test("Ban on a person waits in the field for a duration and reason; the banned page offers no retry, no people, no typing", async () => {
    const { guest: gus, root } = await guestAndOperator("gus", "198.51.100.7");

    // The click only starts the command: the cursor after it, a hint saying what may follow.
    await root.click('summary[aria-label="Moderate gus"]');
    await root.click('button[aria-label="Ban gus"]');
    expect(await root.inputValue("#message")).toBe("/ban gus ");
    expect(
      await root.$eval("#message", (field) => (field as unknown as { selectionStart: number }).selectionStart),
    ).toBe(9);
    expect(await root.isVisible("#command-hint")).toBe(true);
    expect(await root.textContent("#command-hint")).toContain("/ban gus [DURATION] [REASON]");
    expect(await root.textContent("#command-hint")).toContain("10m, 2h, 7d");
    await root.screenshot({ path: join(ARTIFACTS, "page-ban-hint.png") });
    // Nothing happened yet: gus is still in, told nothing.
    await Bun.sleep(500);
    expect(await gus.isVisible("#status.online")).toBe(true);
    expect(await logText(gus)).not.toContain("banned");

    // Escape takes the command back; the menu starts it again, and Enter sends it as finished.
    await root.press("#message", "Escape");
    expect(await root.inputValue("#message")).toBe("");
    expect(await root.isVisible("#command-hint")).toBe(false);
    await root.click('summary[aria-label="Moderate gus"]');
    await root.click('button[aria-label="Ban gus"]');
    await root.keyboard.type("10m flooding the page");
    await root.keyboard.press("Enter");
    expect(await root.isVisible("#command-hint")).toBe(false);

    // The ban closes gus's page, in its words; no retry, no people, no name buttons, nothing to type.
    await waitForText(gus, "#log", "You were banned from this chat by root (10 min");
    expect(await logText(gus)).toContain("flooding the page");
    await waitForText(gus, "#status", "Banned");
    expect(await gus.isVisible("button.retry")).toBe(false);
    expect(await gus.isVisible("#members")).toBe(false);
    expect(await gus.isVisible("#log-in")).toBe(false);
    expect(await gus.isDisabled("#message")).toBe(true);
    expect(await gus.getAttribute("#message", "placeholder")).toStartWith("Banned");
    await gus.screenshot({ path: join(ARTIFACTS, "page-banned.png") });
  });

  test("a banned address trying again is told the ban's words: on Reconnect, and on joining after a reload", async () => {
    const { guest: ike, root } = await guestAndOperator("ike", "198.51.100.9");
    // Kicked out of the chat (which offers Reconnect), then the address banned while away.
    await root.fill("#message", "/kick ike");
    await root.press("#message", "Enter");
    await ike.waitForSelector("button.retry", { timeout: 8_000 });
    await root.fill("#message", "/ban 198.51.100.9 10m flooding the page");
    await root.press("#message", "Enter");
    await waitForText(root, "#log", "198.51.100.9 was banned");

    await ike.click("button.retry");
    await waitForText(ike, "#log", "You are banned from this chat by root (");
    await waitForText(ike, "#status", "Banned");
    const log = await logText(ike);
    expect(log).toContain("You are banned from this chat by root (");
    expect(log).toContain("flooding the page");
    expect(log).not.toContain("handshake");
    expect(await ike.isVisible("button.retry")).toBe(false);
    expect(await ike.getAttribute("#message", "placeholder")).toStartWith("Banned");

    // A reload, and joining again: the form says the ban, and stays.
    await ike.reload();
    await ike.press("#name", "Enter");
    await waitForText(ike, "#name-problem", "You are banned from this chat by root (");
    expect(await ike.textContent("#name-problem")).toContain("flooding the page");
    expect(await ike.textContent("#name-problem")).not.toContain("handshake");
    expect(await ike.isVisible("#welcome")).toBe(true);
    await ike.screenshot({ path: join(ARTIFACTS, "page-banned-again.png") });
  });

  test("a banned account's page says its ban on a reload with its kept login, keeps the login, and says it again for the password", async () => {
    // ana shares her address with root, so the ban is on her account alone (root's address is never banned).
    const root = await operatorPage("198.51.100.30");
    await register(server, "ana");
    const context = await personAt("198.51.100.30");
    contexts.push(context);
    const ana = await joinAs(context, server, "ana", PASSWORD);
    await root.fill("#message", "/ban ana 10m spamming links");
    await root.press("#message", "Enter");
    await waitForText(ana, "#status", "Banned");

    await ana.reload();
    await waitForText(ana, "#name-problem", "banned from this chat by root (");
    expect(await ana.textContent("#name-problem")).toContain("spamming links");
    const kept = await ana.evaluate(() => localStorage.getItem(`chat.login@${location.origin}`));
    expect(kept).toContain('"name":"ana"');
    // Joining again says it again; and from a browser without her login, so does her password,
    // rather than a login that went unanswered.
    await ana.press("#name", "Enter");
    await waitForText(ana, "#name-problem", "spamming links");
    const elsewhere = await personAt("198.51.100.30");
    contexts.push(elsewhere);
    const fresh = await elsewhere.newPage();
    await fresh.goto(server.url.replace(/^ws/, "http"));
    await fresh.fill("#name", "ana");
    await fresh.press("#name", "Enter");
    await fresh.waitForSelector("#password-field:not([hidden])", { timeout: 8_000 });
    await fresh.fill("#password", PASSWORD);
    await fresh.press("#password", "Enter");
    await waitForText(fresh, "#name-problem", "spamming links");
    expect(await fresh.textContent("#name-problem")).toContain("banned from this chat by root (");
    expect(await fresh.isVisible("#welcome")).toBe(true);
  });

  test("someone made a moderator, and no longer one, is told so in the conversation", async () => {
    await register(server, "bob");
    const root = await operatorPage("198.51.100.2");
    const appointed = await personAt("198.51.100.3");
    contexts.push(appointed);
    const bob = await joinAs(appointed, server, "bob", PASSWORD);
    await root.fill("#message", "/mod bob");
    await root.press("#message", "Enter");
    await waitForText(bob, "#log", "You are a moderator of chat now");
    await bob.waitForSelector("#chat.moderator", { timeout: 8_000 });
    await root.fill("#message", "/unmod bob");
    await root.press("#message", "Enter");
    await waitForText(bob, "#log", "You have no role in chat now.");
  });
});
