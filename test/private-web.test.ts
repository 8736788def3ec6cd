/**
 * Private messages on the page, in a real headless Chromium (playwright-core) against the real
 * server: the side panel's conversations and their unread counts, a conversation opened and
 * answered, and the room messages of someone ignored hidden. A screenshot goes to test/artifacts/.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { type Browser, chromium } from "playwright-core";
import { jsonClient, ROOT, type RunningServer, startServer } from "./helpers";

/** The callbacks given to page.waitForFunction run in the page; the tests compile with Bun's types. */
declare const document: { querySelector(selector: string): { textContent: string | null } | null };

const ARTIFACTS = join(ROOT, "test", "artifacts");
const dm = (to: string, text: string) => JSON.stringify({ type: "dm", to, text });

let browser: Browser;
let server: RunningServer;
beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-sync"],
  });
  server = await startServer(["--history", "20"]);
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe("the page", () => {
  test("lists private conversations with their unread counts; one opens on a click, and what is typed there goes to that person", async () => {
    const page = await browser.newPage({ viewport: { width: 1100, height: 700 } });
    await page.goto(server.url.replace(/^ws/, "http"));
    await page.fill("#name", "pat");
    await page.press("#name", "Enter");
    await page.waitForSelector("#status.online");
    const alice = await jsonClient(server, "?name=alice");
    const carol = await jsonClient(server, "?name=carol");

    alice.socket.send(dm("pat", "are you there?"));
    alice.socket.send(dm("pat", "it is about the release"));
    await page.waitForSelector("#conversations button .unread", { timeout: 8_000 });
    await page.waitForFunction(() => document.querySelector("#conversations .unread")?.textContent === "2", undefined, {
      timeout: 8_000,
    });
    expect(await page.textContent("#conversations")).toBe("alice 2");
    expect(await page.isVisible("#private-section")).toBe(true);
    // Nothing of it in the room's conversation.
    expect(await page.textContent("#log")).not.toContain("are you there?");

    await page.click("#conversations button");
    await page.waitForSelector("#private-log:not([hidden])");
    expect(await page.isHidden("#log")).toBe(true);
    expect(await page.$$eval("#private-log li", (items) => items.map((i) => i.textContent))).toEqual([
      expect.stringMatching(/^\d\d:\d\d\s*alice → you: are you there\?$/),
      expect.stringMatching(/^\d\d:\d\d\s*alice → you: it is about the release$/),
    ]);
    expect(await page.$("#conversations .unread")).toBeNull();
    expect(await page.textContent("#private-with")).toBe("alice");

    await page.fill("#message", "yes, go on");
    await page.press("#message", "Enter");
    const answer = await alice.socket.waitForEvent("pat's answer", (e) => e.type === "dm" && e.text === "yes, go on");
    expect(answer).toMatchObject({ from: { name: "pat" }, to: { name: "alice" } });
    await page.waitForFunction(() => document.querySelector("#private-log")?.textContent?.includes("you → alice"));
    await page.screenshot({ path: join(ARTIFACTS, "private-conversation.png") });

    // Back in the room: someone ignored says something, and it is not shown.
    await page.click("#private-back");
    await page.waitForSelector("#log:not([hidden])");
    await page.fill("#message", "/ignore carol");
    await page.press("#message", "Enter");
    await page.waitForFunction(() => document.querySelector("#log")?.textContent?.includes("You ignore carol"));
    carol.socket.send(JSON.stringify({ type: "say", text: "carol was here" }));
    alice.socket.send(JSON.stringify({ type: "say", text: "alice was here" }));
    await page.waitForFunction(() => document.querySelector("#log")?.textContent?.includes("alice was here"));
    expect(await page.isVisible("#log li:has-text('carol was here')")).toBe(false);
    alice.socket.close();
    carol.socket.close();
    await page.close();
  });
});
