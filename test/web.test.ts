/**
 * The web page in a real headless Chromium (Debian's, driven by playwright-core), against the real
 * server, next to real terminal clients. Screenshots go to test/artifacts/ for a person to look at.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { SUBPROTOCOL } from "../common/events";
import { nameColour } from "../common/text";
import { contrast, deltaE2000, parseColour } from "./colour";
import {
  BUN,
  pipeClient,
  ROOT,
  type RunningServer,
  run,
  startServer,
  TestSocket,
  unusedPort,
  waitForStored,
} from "./helpers";

/**
 * The callbacks given to page.evaluate and waitForFunction run in the page, where `document` is the
 * DOM's. The tests compile with Bun's types, not the DOM's (the two clash), so this much is declared.
 */
declare const getComputedStyle: (element: object) => { color: string; getPropertyValue(name: string): string };
declare const document: {
  documentElement: object;
  hidden: boolean;
  dispatchEvent(event: Event): boolean;
  querySelector(selector: string): { textContent: string | null } | null;
  querySelectorAll(selector: string): Iterable<{ textContent: string | null }>;
  activeElement: { id: string } | null;
};

const ARTIFACTS = join(ROOT, "test", "artifacts");
const CHROMIUM = "/usr/bin/chromium";

let browser: Browser;
beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  // Without the background services, Chromium keeps trying hosts this machine cannot reach.
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
});
afterAll(() => browser?.close());

/** Opens the chat in a new page and joins as `name` (empty: by address only). */
async function joinAs(url: string, name: string, { width = 1100, height = 700 } = {}): Promise<Page> {
  const page = await browser.newPage({ viewport: { width, height } });
  await page.goto(url.replace(/^ws/, "http"));
  await page.fill("#name", name);
  await page.press("#name", "Enter");
  await page.waitForSelector("#status.online");
  return page;
}

/** Types a line into the page's message field and presses Enter, as a person would. */
async function say(page: Page, text: string): Promise<void> {
  await page.fill("#message", text);
  await page.press("#message", "Enter");
}

/** Makes the page believe its tab is hidden (or shown again), as switching tabs would. */
const setTabHidden = (page: Page, hidden: boolean) =>
  page.evaluate((hidden) => {
    Object.defineProperty(document, "hidden", { configurable: true, get: () => hidden });
    document.dispatchEvent(new Event("visibilitychange"));
  }, hidden);
const logTexts = (page: Page) => page.$$eval("#log li", (items) => items.map((item) => item.textContent ?? ""));
const waitForLog = (page: Page, text: string) =>
  page.waitForFunction(
    (t) => [...document.querySelectorAll("#log li")].some((li) => li.textContent?.includes(t)),
    text,
    { timeout: 8_000 },
  );

describe("the web page", () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer(["--history", "20"]);
  });
  afterAll(() => server.stop());

  test("two pages and a terminal client in one room talk all three ways; names and presence follow", async () => {
    const ada = await joinAs(server.url, "ada");
    const bo = await joinAs(server.url, "bo");
    const term = pipeClient(["--name", "term", server.url]);
    try {
      await ada.waitForFunction(() => document.querySelector("#members")?.textContent?.includes("term ("), undefined, {
        timeout: 8_000,
      });
      expect(await ada.textContent("#members")).toMatch(
        /ada \(127\.0\.0\.1:\d+\) · you.*bo \(127\.0\.0\.1:\d+\).*term \(127\.0\.0\.1:\d+\)/,
      );

      await say(ada, "hello from ada");
      await waitForLog(bo, "hello from ada");
      await term.waitForOutput("ada's message", (o) => /ada \(127\.0\.0\.1:\d+\): hello from ada/.test(o));
      await say(bo, "hello from bo");
      await waitForLog(ada, "hello from bo");
      await term.waitForOutput("bo's message", (o) => o.includes("hello from bo"));
      term.write("hello from the terminal");
      await waitForLog(ada, "hello from the terminal");
      await waitForLog(bo, "hello from the terminal");

      // Own messages stand apart; Enter sends and focus stays in the field.
      expect(await ada.$$eval("#log li.own", (items) => items.map((i) => i.textContent))).toEqual([
        expect.stringContaining("hello from ada"),
      ]);
      expect(await ada.evaluate(() => document.activeElement?.id)).toBe("message");

      // A rename and a departure reach the other page's list and conversation.
      await say(bo, "/nick bob");
      await waitForLog(ada, "is now bob");
      await ada.waitForFunction(() => document.querySelector("#members")?.textContent?.includes("bob ("), undefined, {
        timeout: 8_000,
      });
      term.proc.stdin.end();
      await waitForLog(ada, "term (");
      await ada.waitForFunction(() => !document.querySelector("#members")?.textContent?.includes("term ("), undefined, {
        timeout: 8_000,
      });
      expect(await logTexts(ada)).toContainEqual(expect.stringMatching(/term \(127\.0\.0\.1:\d+\) left chat/));

      await ada.screenshot({ path: join(ARTIFACTS, "page-light.png") });
      await ada.emulateMedia({ colorScheme: "dark" });
      await ada.screenshot({ path: join(ARTIFACTS, "page-dark.png") });
      await bo.setViewportSize({ width: 390, height: 720 });
      await bo.screenshot({ path: join(ARTIFACTS, "page-phone.png") });
      expect(await bo.isVisible("#message")).toBe(true);
    } finally {
      term.proc.kill("SIGKILL");
      await ada.close();
      await bo.close();
    }
  });

  test("what people write is shown as text and never runs; the page forbids inline script", async () => {
    const writer = await joinAs(server.url, "mallory");
    const reader = await joinAs(server.url, "victim");
    let dialogs = 0;
    reader.on("dialog", (dialog) => {
      dialogs++;
      void dialog.dismiss();
    });
    try {
      const attack = "<img src=x onerror=alert(1)><script>alert(2)</script>";
      await say(writer, attack);
      await waitForLog(reader, "<img src=x");
      expect(await reader.$$eval("#log img, #log script", (found) => found.length)).toBe(0);
      expect(await logTexts(reader)).toContainEqual(expect.stringContaining(`: ${attack}`));
      expect(dialogs).toBe(0);
      const policy = await reader.getAttribute('meta[http-equiv="Content-Security-Policy"]', "content");
      expect(policy).toContain("script-src 'self'");
      // Inline script is refused by the policy itself, not only kept out by textContent.
      await reader.addScriptTag({ content: "globalThis.inlineRan = true" }).catch(() => {});
      expect(await reader.evaluate(() => (globalThis as { inlineRan?: boolean }).inlineRan ?? false)).toBe(false);
    } finally {
      await writer.close();
      await reader.close();
    }
  });

  test("the conversation follows the newest message, unless the reader has scrolled up", async () => {
    const page = await joinAs(server.url, "scroller", { width: 900, height: 420 });
    const talker = pipeClient(["--name", "chatty", "--room", "scrolling", server.url]);
    try {
      await say(page, "/join scrolling");
      await page.waitForFunction(() => document.querySelector("#room")?.textContent === "scrolling", undefined, {
        timeout: 8_000,
      });
      const position = () =>
        page.$eval(".conversation", (c) => ({ top: c.scrollTop, bottom: c.scrollHeight - c.clientHeight }));
      for (let n = 1; n <= 15; n++) talker.write(`line ${n}`);
      await waitForLog(page, "line 15");
      const atEnd = await position();
      expect(atEnd.bottom).toBeGreaterThan(0); // there is something to scroll
      expect(atEnd.top).toBeGreaterThanOrEqual(atEnd.bottom - 2);
      await page.$eval(".conversation", (c) => void (c.scrollTop = 0));
      for (let n = 16; n <= 18; n++) talker.write(`line ${n}`);
      await waitForLog(page, "line 18");
      expect((await position()).top).toBe(0); // left where the reader was
    } finally {
      talker.proc.kill("SIGKILL");
      await page.close();
    }
  });
});

test("a server restart is survived by the page: it reconnects, resumes, and nothing is lost or doubled", async () => {
  const dir = mkdtempSync(join(tmpdir(), "chat-web-restart-"));
  const port = unusedPort();
  const store = join(dir, "h.sqlite");
  const args = ["--port", String(port), "--store", store];
  let server = await startServer(args);
  const page = await joinAs(server.url, "steady");
  try {
    await say(page, "before the restart");
    await waitForLog(page, "before the restart");
    await waitForStored(store, "before the restart"); // SIGKILL gives the store no chance to write what is pending
    await server.stop(); // SIGKILL
    await page.waitForSelector("#status.reconnecting", { timeout: 8_000 });
    expect(await page.getAttribute("#message", "placeholder")).toBe(
      "Offline: what you type waits, and goes out on reconnecting",
    );
    await say(page, "typed while down");
    // Shown at once, marked as waiting; replaced by the real thing once it went out.
    expect(await page.$$eval("#log li.pending", (items) => items.map((item) => item.textContent))).toEqual([
      "typed while down",
    ]);
    server = await startServer(args);
    await page.waitForSelector("#status.online", { timeout: 15_000 });
    await waitForLog(page, ": typed while down");
    await page.waitForFunction(() => [...document.querySelectorAll("#log li.pending")].length === 0);
    expect(
      (await run([BUN, join(ROOT, "client.ts"), "--name", "late", server.url], { input: "after the restart\n" }))
        .exitCode,
    ).toBe(0);
    await waitForLog(page, "after the restart");
    const said = (await logTexts(page)).filter((text) =>
      /before the restart|typed while down|after the restart/.test(text),
    );
    expect(said.map((text) => text.replace(/^.*: /, ""))).toEqual([
      "before the restart",
      "typed while down",
      "after the restart",
    ]);
    await page.screenshot({ path: join(ARTIFACTS, "page-after-restart.png") });
  } finally {
    await page.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}, 40_000);

test("in a room past --announce-limit, the page says its list of people is a snapshot; /who refreshes it", async () => {
  const server = await startServer(["--announce-limit", "1"]);
  const first = await joinAs(server.url, "first");
  let second: Page | undefined;
  try {
    expect(await first.textContent("#members-title")).toBe("Here now");
    second = await joinAs(server.url, "second");
    await second.waitForFunction(
      () => document.querySelector("#members")?.textContent?.includes("first ("),
      undefined,
      { timeout: 8_000 },
    );
    expect(await second.textContent("#members-title")).toBe("2 here when you looked (/who to refresh)");
    // The first page heard no join: its list stays as it was, until it asks.
    await say(second, "hello first");
    await waitForLog(first, "hello first");
    expect(await first.textContent("#members")).not.toContain("second (");
    await say(first, "/who");
    await first.waitForFunction(
      () => document.querySelector("#members")?.textContent?.includes("second ("),
      undefined,
      { timeout: 8_000 },
    );
    expect(await first.textContent("#members-title")).toBe("2 here when you looked (/who to refresh)");
  } finally {
    await first.close();
    await second?.close();
    await server.stop();
  }
});

test("the compiled server serves the page with nothing beside it", async () => {
  const bin = mkdtempSync(join(tmpdir(), "chat-web-bin-"));
  const cwd = mkdtempSync(join(tmpdir(), "chat-web-cwd-"));
  try {
    const built = await run(
      [BUN, "build", "--compile", join(ROOT, "server.ts"), "--outfile", join(bin, "chat-server")],
      { timeoutMs: 60_000 },
    );
    expect(built.exitCode).toBe(0);
    const server = await startServer([], { command: [join(bin, "chat-server")], cwd });
    try {
      const page = await joinAs(server.url, "compiled");
      await say(page, "served by the executable");
      await waitForLog(page, "served by the executable");
      await page.close();
    } finally {
      await server.stop();
    }
  } finally {
    rmSync(bin, { recursive: true, force: true });
    rmSync(cwd, { recursive: true, force: true });
  }
}, 60_000);

test("a taken name keeps the page on the name form, with the reason; another name gets in", async () => {
  const server = await startServer();
  const holder = await TestSocket.open(`${server.url}/?name=ada`);
  const page = await browser.newPage({ viewport: { width: 900, height: 600 } });
  try {
    await server.waitForLog(/ada \(\S+\) joined chat/);
    await page.goto(server.url.replace(/^ws/, "http"));
    await page.fill("#name", "Ada");
    await page.press("#name", "Enter");
    await page.waitForFunction(
      () => document.querySelector("#name-problem")?.textContent?.includes("taken"),
      undefined,
      { timeout: 8_000 },
    );
    expect(await page.textContent("#name-problem")).toBe("The name 'Ada' is taken; choose another.");
    expect(await page.isVisible("#welcome")).toBe(true);
    expect(await page.isVisible("#chat")).toBe(false);
    await page.fill("#name", "ada2");
    await page.press("#name", "Enter");
    await page.waitForSelector("#status.online");
    expect(await page.isVisible("#welcome")).toBe(false);
    await server.waitForLog(/ada2 \(\S+\) joined chat/);
  } finally {
    holder.close();
    await page.close();
    await server.stop();
  }
});

test("with --token, the page asks for it, says when it is wrong, and chats once it is right", async () => {
  const server = await startServer(["--token", "s3cret"]);
  const page = await browser.newPage({ viewport: { width: 1100, height: 700 } });
  try {
    await page.goto(`http://127.0.0.1:${server.port}/`);
    await page.waitForSelector("#token-field:not([hidden])");
    await page.fill("#name", "keyholder");
    await page.press("#name", "Enter");
    await page.waitForFunction(
      () => document.querySelector("#name-problem")?.textContent === "This server wants a token: type it above.",
    );
    await page.fill("#token", "wrong");
    await page.press("#token", "Enter");
    await page.waitForFunction(
      () =>
        document.querySelector("#name-problem")?.textContent ===
        "That token is not this server's. Check it with the server's operator.",
    );
    await page.fill("#token", "s3cret");
    await page.press("#token", "Enter");
    await page.waitForSelector("#status.online");
    await say(page, "in with the token");
    await waitForLog(page, "in with the token");
  } finally {
    await page.close();
    await server.stop();
  }
});

test("loading the page asks for nothing that is not there and logs no error", async () => {
  const server = await startServer([]);
  const page = await browser.newPage();
  const failures: string[] = [];
  page.on("console", (message) => void (message.type() === "error" && failures.push(message.text())));
  page.on(
    "response",
    (response) => void (response.status() >= 400 && failures.push(`${response.status()} ${response.url()}`)),
  );
  try {
    await page.goto(`http://127.0.0.1:${server.port}/`);
    await page.fill("#name", "iconic");
    await page.press("#name", "Enter");
    await page.waitForSelector("#status.online");
    expect(failures).toEqual([]);
    expect((await fetch(`http://127.0.0.1:${server.port}/favicon.ico`)).status).toBe(204);
  } finally {
    await page.close();
    await server.stop();
  }
});

test("others coming and going do not make the page spend its own rate asking for the rooms", async () => {
  const server = await startServer(["--ip-connect-rate", "0", "--ip-changes", "0", "--trust-proxy", "127.0.0.1"]);
  const page = await browser.newPage();
  let roomsAsked = 0;
  page.on("websocket", (socket) =>
    socket.on("framesent", ({ payload }) => void (String(payload).includes('"rooms"') && roomsAsked++)),
  );
  const visitors: TestSocket[] = [];
  try {
    await page.goto(`http://127.0.0.1:${server.port}/`);
    await page.fill("#name", "steady");
    await page.press("#name", "Enter");
    await page.waitForSelector("#status.online");
    for (let i = 0; i < 15; i++) {
      const visitor = await TestSocket.open(`${server.url}/?name=v${i}`, undefined, 5_000, {
        "X-Forwarded-For": `198.51.100.${i + 1}`,
      });
      visitor.send(`/nick w${i}`);
      visitors.push(visitor);
    }
    await waitForLog(page, "v14");
    await waitForLog(page, "is now w14");
    // The page still says how many are here, from the notices alone.
    await page.waitForFunction(() => document.querySelector("#rooms")?.textContent?.includes("16"));
    expect(roomsAsked).toBeLessThanOrEqual(2);
    await say(page, "still can talk");
    await waitForLog(page, "still can talk");
  } finally {
    for (const visitor of visitors) visitor.close();
    await page.close();
    await server.stop();
  }
});

test("a mention is highlighted, a hidden tab counts what came in its title, and the field shows what is left near the limit", async () => {
  const server = await startServer(["--max-message", "300"]);
  const page = await joinAs(server.url, "mira");
  try {
    const other = await TestSocket.open(`${server.url}/?name=otto`);
    other.send("hey mira, look");
    other.send("nothing for miranda here");
    await waitForLog(page, "nothing for miranda here");
    const mentioned = await page.$$eval("#log li.mention", (items) => items.map((item) => item.textContent ?? ""));
    expect(mentioned.map((text) => text.replace(/^.*: /, ""))).toEqual(["hey mira, look"]);

    // The tab is hidden: what comes in is counted in the title, and the count goes once it is shown.
    await setTabHidden(page, true);
    other.send("one");
    other.send("two");
    await waitForLog(page, ": two");
    expect(await page.title()).toBe("(2) #chat · Chat");
    await setTabHidden(page, false);
    expect(await page.title()).toBe("#chat · Chat");

    await page.fill("#message", "x".repeat(250));
    expect(await page.textContent("#length-left")).toBe("50 left");
    await page.fill("#message", "x".repeat(310));
    expect(await page.textContent("#length-left")).toBe("10 too long");
    await page.fill("#message", "short");
    expect(await page.isHidden("#length-left")).toBe(true);
    other.close();
  } finally {
    await page.close();
    await server.stop();
  }
});

test("the name colours of 12 people are pairwise distinguishable and AA-contrasted, in the light theme and the dark", async () => {
  const server = await startServer(["--ip-rate", "0", "--history", "0"]);
  const names = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "niaj"];
  const talkers: TestSocket[] = [];
  try {
    for (const name of names.slice(1)) talkers.push(await TestSocket.open(`${server.url}/?name=${name}`));
    for (const scheme of ["light", "dark"] as const) {
      const page = await browser.newPage({ colorScheme: scheme });
      try {
        await page.goto(`http://127.0.0.1:${server.port}/`);
        await page.fill("#name", `${names[0]}-${scheme}`);
        await page.press("#name", "Enter");
        await page.waitForSelector("#status.online");
        await say(page, "hello");
        for (const [i, talker] of talkers.entries()) talker.send(`hi from ${names[i + 1]} (${scheme})`);
        await waitForLog(page, `hi from niaj (${scheme})`);
        const seen = await page.$$eval("#log li.said .who", (items) =>
          items.map((item) => [item.textContent ?? "", getComputedStyle(item).color] as const),
        );
        const backgrounds = await page.evaluate(() =>
          ["--bg", "--panel", "--own"].map((v) => getComputedStyle(document.documentElement).getPropertyValue(v)),
        );
        const colourByName = new Map(seen);
        expect(colourByName.size).toBe(12);
        // The first name to speak has the colour nameColour gives it, the index the terminal uses too.
        const firstClasses = await page.getAttribute("#log li.said .who", "class");
        expect(firstClasses?.split(" ")).toContain(`name-${nameColour(`${names[0]}-${scheme}`)}`);
        const colours = [...colourByName.values()].map(parseColour);
        for (const colour of colours)
          for (const background of backgrounds)
            expect(contrast(colour, parseColour(background))).toBeGreaterThanOrEqual(4.5);
        for (let i = 0; i < colours.length; i++)
          for (let j = i + 1; j < colours.length; j++)
            expect(deltaE2000(colours[i]!, colours[j]!)).toBeGreaterThanOrEqual(10);
      } finally {
        await page.close();
      }
    }
  } finally {
    for (const talker of talkers) talker.close();
    await server.stop();
  }
});

test("on a phone, people and rooms are a drawer from the top bar; screenshots wide, phone with the drawer open, and dark", async () => {
  const server = await startServer([]);
  const others = [
    await TestSocket.open(`${server.url}/?name=pia`),
    await TestSocket.open(`${server.url}/?name=quinn&room=games`),
  ];
  try {
    const phone = await joinAs(server.url, "rhea", { width: 390, height: 740 });
    try {
      others[0]!.send("hello from pia");
      await waitForLog(phone, "hello from pia");
      expect(await phone.isVisible("#side")).toBe(false);
      expect(await phone.getAttribute("#message", "placeholder")).toBe("Message");
      await phone.click("#drawer-toggle");
      await phone.waitForSelector("#side", { state: "visible" });
      expect(await phone.textContent("#members")).toContain("pia");
      await phone.waitForFunction(() => document.querySelector("#rooms")?.textContent?.includes("games"));
      await phone.screenshot({ path: join(ARTIFACTS, "page-phone-drawer.png") });
      await phone.click("#rooms button:has-text('games')");
      await phone.waitForSelector("#side", { state: "hidden" });
      await phone.waitForFunction(() => document.querySelector("#room")?.textContent === "games");
    } finally {
      await phone.close();
    }
    const wide = await joinAs(server.url, "sol");
    await waitForLog(wide, "hello from pia");
    await wide.screenshot({ path: join(ARTIFACTS, "page-wide.png") });
    await wide.close();
    const dark = await browser.newPage({ viewport: { width: 1100, height: 700 }, colorScheme: "dark" });
    await dark.goto(`http://127.0.0.1:${server.port}/`);
    await dark.fill("#name", "tam");
    await dark.press("#name", "Enter");
    await dark.waitForSelector("#status.online");
    others[0]!.send("evening");
    await waitForLog(dark, "evening");
    await dark.screenshot({ path: join(ARTIFACTS, "page-dark.png") });
    await dark.close();
  } finally {
    for (const other of others) other.close();
    await server.stop();
  }
});

test("Shift+Enter writes a second line, and a pasted block goes as one message; later lines are indented under the first", async () => {
  const server = await startServer([]);
  const page = await joinAs(server.url, "poet");
  const listener = await TestSocket.open(server.url, SUBPROTOCOL);
  try {
    await page.type("#message", "first line");
    await page.keyboard.press("Shift+Enter");
    await page.keyboard.type("second line");
    await page.press("#message", "Enter");
    await page.fill("#message", "pasted\nblock\nof three");
    await page.press("#message", "Enter");
    await listener.waitForEvent(
      "the pasted block",
      (e) => e.type === "message" && e.text === "pasted\nblock\nof three",
    );
    expect(listener.events.filter((e) => e.type === "message").map((e) => e.text)).toEqual([
      "first line\nsecond line",
      "pasted\nblock\nof three",
    ]);
    await waitForLog(page, "of three");
    const item = await page.$("#log li.said:last-child");
    expect(await item!.evaluate((li) => getComputedStyle(li).getPropertyValue("text-indent"))).toMatch(/^-\d/);
  } finally {
    listener.close();
    await page.close();
    await server.stop();
  }
});

test("scrolling to the top loads older messages from the server, page by page, to the start of the room's history", async () => {
  const dir = mkdtempSync(join(tmpdir(), "chat-web-older-"));
  const server = await startServer([
    "--store",
    join(dir, "h.sqlite"),
    "--history",
    "5",
    "--rate",
    "0",
    "--ip-rate",
    "0",
  ]);
  const talker = await TestSocket.open(`${server.url}/?name=chronicler`);
  const page = await browser.newPage({ viewport: { width: 700, height: 300 } });
  try {
    for (let i = 1; i <= 30; i++) talker.send(`entry ${i}`);
    await talker.waitForChat(30);
    await page.goto(`http://127.0.0.1:${server.port}/`);
    await page.fill("#name", "reader");
    await page.press("#name", "Enter");
    await waitForLog(page, "entry 30");
    const seqs = () =>
      page.$$eval("#log li.said", (items) =>
        items.map((item) => Number((item as unknown as { dataset: { seq: string } }).dataset.seq)),
      );
    expect(await seqs()).toEqual([26, 27, 28, 29, 30]);
    for (let round = 0; round < 10 && !(await logTexts(page)).some((t) => t.includes("The start of #chat")); round++) {
      const before = (await seqs()).length;
      await page.evaluate(() => {
        const conversation = document.querySelector(".conversation") as unknown as {
          scrollTop: number;
          dispatchEvent(event: Event): boolean;
        };
        conversation.scrollTop = 0;
        conversation.dispatchEvent(new Event("scroll"));
      });
      await page.waitForFunction((count) => [...document.querySelectorAll("#log li")].length > count, before, {
        timeout: 5_000,
      });
    }
    expect(await seqs()).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect((await logTexts(page))[0]).toBe("The start of #chat's history.");
  } finally {
    talker.close();
    await page.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("with notifications turned on, a mention in a hidden tab shows a desktop notification; other messages do not", async () => {
  const server = await startServer([]);
  const context = await browser.newContext({ permissions: ["notifications"] });
  const page = await context.newPage();
  // The browser's own Notification, recording what it is asked to show.
  await page.addInitScript({
    content: `{
      const Real = window.Notification;
      window.shownNotifications = [];
      window.Notification = class extends Real {
        constructor(title, options) { super(title, options); window.shownNotifications.push({ title, body: options && options.body }); }
      };
    }`,
  });
  const other = await TestSocket.open(`${server.url}/?name=ozzy`);
  try {
    await page.goto(`http://127.0.0.1:${server.port}/`);
    await page.fill("#name", "nell");
    await page.press("#name", "Enter");
    await page.waitForSelector("#status.online");
    await page.click("#notify-toggle");
    await page.waitForSelector("#notify-toggle[aria-pressed='true']");
    await setTabHidden(page, true);
    other.send("just chatting");
    other.send("nell, are you there?");
    await waitForLog(page, "are you there");
    const shown = await page.evaluate(
      () => (globalThis as unknown as { shownNotifications: { title: string; body: string }[] }).shownNotifications,
    );
    expect(shown).toEqual([
      {
        title: expect.stringMatching(/^ozzy \(127\.0\.0\.1:\d+\) mentioned you in #chat$/),
        body: "nell, are you there?",
      },
    ]);
  } finally {
    other.close();
    await context.close();
    await server.stop();
  }
});

test("someone who joins and leaves with nothing said between makes one line, 'came and went'", async () => {
  const server = await startServer([]);
  const page = await joinAs(server.url, "watcher");
  try {
    expect((await run([BUN, join(ROOT, "client.ts"), "--name", "lookin", server.url], { input: "" })).exitCode).toBe(0);
    await waitForLog(page, "came and went");
    expect(
      (await run([BUN, join(ROOT, "client.ts"), "--name", "talker", server.url], { input: "just passing\n" })).exitCode,
    ).toBe(0);
    await waitForLog(page, "talker (");
    await page.waitForFunction(() =>
      [...document.querySelectorAll("#log li")].some(
        (li) => li.textContent?.includes("talker") && li.textContent.includes("left chat"),
      ),
    );
    const lines = (await logTexts(page)).filter((text) => /lookin|talker/.test(text));
    expect(lines.map((text) => text.replace(/^\d\d:\d\d\s*/, "").replace(/127\.0\.0\.1:\d+/, "ADDR"))).toEqual([
      "lookin (ADDR) came and went",
      "talker (ADDR) joined chat",
      "talker(ADDR): just passing",
      "talker (ADDR) left chat",
    ]);
  } finally {
    await page.close();
    await server.stop();
  }
});

test("the page's token appears in no URL it asks for, HTTP or WebSocket, and the chat works with it", async () => {
  const token = `s3cret-${crypto.randomUUID()}`;
  const server = await startServer(["--token", token]);
  const page = await browser.newPage({ viewport: { width: 1100, height: 700 } });
  const urls: string[] = [];
  page.on("request", (request) => void urls.push(request.url()));
  page.on("websocket", (socket) => void urls.push(socket.url()));
  const listener = await TestSocket.open(server.url, SUBPROTOCOL, 5_000, { Authorization: `Bearer ${token}` });
  try {
    await page.goto(`http://127.0.0.1:${server.port}/`);
    await page.waitForSelector("#token-field:not([hidden])");
    await page.fill("#name", "keeper");
    await page.fill("#token", token);
    await page.press("#token", "Enter");
    await page.waitForSelector("#status.online");
    await say(page, "the token stays out of sight");
    await listener.waitForEvent("the page's message", (e) => e.type === "message" && e.text.includes("out of sight"));
    await waitForLog(page, "the token stays out of sight");
    expect(urls.some((url) => url.startsWith("ws://"))).toBe(true); // the WebSocket was seen
    expect(urls.filter((url) => url.includes(token) || url.includes(encodeURIComponent(token)))).toEqual([]);
  } finally {
    listener.close();
    await page.close();
    await server.stop();
  }
});

test("with --token, a problem with the name puts the cursor in the name field, whatever the name says; one with the token, in the token field", async () => {
  const server = await startServer(["--token", "s3cret"]);
  const page = await browser.newPage({ viewport: { width: 1100, height: 700 } });
  try {
    await page.goto(`http://127.0.0.1:${server.port}/`);
    await page.waitForSelector("#token-field:not([hidden])");
    // The name's problem quotes the name, and this one has "token" in it.
    await page.fill("#name", "token!");
    await page.fill("#token", "s3cret");
    await page.press("#token", "Enter");
    await page.waitForFunction(() => document.querySelector("#name-problem")?.textContent?.includes("'token!'"));
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("name");
    // No name at all (going by the address) still needs the token.
    await page.fill("#name", "");
    await page.fill("#token", "");
    await page.press("#name", "Enter");
    await page.waitForFunction(
      () => document.querySelector("#name-problem")?.textContent === "This server wants a token: type it above.",
    );
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("token");
    await page.fill("#token", "s3cret");
    await page.press("#token", "Enter");
    await page.waitForSelector("#status.online");
  } finally {
    await page.close();
    await server.stop();
  }
});

test("'came and went' is built from who left, not from the wording of the leave notice", async () => {
  const server = await startServer([]);
  const page = await browser.newPage({ viewport: { width: 1100, height: 700 } });
  // Between the page and the real server, leave notices get another wording (a server in French):
  // the page must not read its line out of the English.
  await page.routeWebSocket(/.*/, (route) => {
    const server = route.connectToServer();
    server.onMessage((frame) => {
      const event = typeof frame === "string" ? JSON.parse(frame) : undefined;
      if (event?.type === "notice" && event.event === "leave") event.text = `${event.user.name} est parti`;
      route.send(event ? JSON.stringify(event) : frame);
    });
  });
  try {
    await page.goto(`http://127.0.0.1:${server.port}/`);
    await page.fill("#name", "watcher");
    await page.press("#name", "Enter");
    await page.waitForSelector("#status.online");
    expect((await run([BUN, join(ROOT, "client.ts"), "--name", "lookin", server.url], { input: "" })).exitCode).toBe(0);
    await waitForLog(page, "lookin");
    await page.waitForFunction(
      () => ![...document.querySelectorAll("#log li")].some((li) => li.textContent?.includes("joined")),
      undefined,
      { timeout: 8_000 },
    );
    const lines = (await logTexts(page)).filter((text) => text.includes("lookin"));
    expect(lines.map((text) => text.replace(/^\d\d:\d\d\s*/, "").replace(/127\.0\.0\.1:\d+/, "ADDR"))).toEqual([
      "lookin (ADDR) came and went",
    ]);
  } finally {
    await page.close();
    await server.stop();
  }
});

test("a message over --max-message is not sent: it stays in the field, and the line says its own size", async () => {
  const server = await startServer(["--max-message", "300"]);
  const page = await browser.newPage({ viewport: { width: 1100, height: 700 } });
  const sent: string[] = [];
  page.on("websocket", (socket) => socket.on("framesent", ({ payload }) => void sent.push(String(payload))));
  const listener = await TestSocket.open(server.url, SUBPROTOCOL);
  try {
    await page.goto(`http://127.0.0.1:${server.port}/`);
    await page.fill("#name", "paster");
    await page.press("#name", "Enter");
    await page.waitForSelector("#status.online");
    const pasted = "x".repeat(70_000);
    await say(page, pasted);
    await waitForLog(page, "That message is 70000 bytes; the limit is 300.");
    expect(await page.inputValue("#message")).toBe(pasted);
    // Counted in UTF-8 bytes, as the server counts: 200 characters of 2 bytes each.
    const accented = "é".repeat(200);
    await say(page, accented);
    await waitForLog(page, "That message is 400 bytes; the limit is 300.");
    expect(await page.inputValue("#message")).toBe(accented);
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("message");
    await say(page, "a short one");
    await listener.waitForEvent("the short message", (e) => e.type === "message" && e.text === "a short one");
    expect(listener.events.filter((e) => e.type === "message").map((e) => e.text)).toEqual(["a short one"]);
    expect(sent.filter((frame) => frame.includes('"say"'))).toEqual([expect.stringContaining("a short one")]);
  } finally {
    listener.close();
    await page.close();
    await server.stop();
  }
});

test("a message the server refuses goes back into the empty field, or is named if the field is in use; its waiting copy is marked not sent", async () => {
  const port = unusedPort();
  let server = await startServer(["--port", String(port), "--max-message", "300"]);
  const page = await joinAs(server.url, "writer");
  try {
    await server.stop(); // SIGKILL
    await page.waitForSelector("#status.reconnecting", { timeout: 8_000 });
    // Typed while the server is down, within the limit the page knows; the server comes back with a lower one.
    const first = `${"a".repeat(150)} first`;
    const second = `${"b".repeat(150)} second`;
    await say(page, first);
    await say(page, second);
    expect(await page.$$eval("#log li.pending", (items) => items.length)).toBe(2);
    server = await startServer(["--port", String(port), "--max-message", "100"]);
    await page.waitForSelector("#status.online", { timeout: 15_000 });
    await page.waitForFunction(() => [...document.querySelectorAll("#log li.failed")].length === 2, undefined, {
      timeout: 8_000,
    });
    expect(await page.inputValue("#message")).toBe(first);
    expect(await page.$$eval("#log li.pending", (items) => items.length)).toBe(0);
    const errors = await page.$$eval("#log li.error", (items) => items.map((item) => item.textContent ?? ""));
    expect(errors.map((text) => text.replace(/^\d\d:\d\d/, ""))).toEqual([
      "That message is 156 bytes; the limit is 100. It was not sent. It is back in the field.",
      `That message is 157 bytes; the limit is 100. It was not sent. The message: “${"b".repeat(60)}…”`,
    ]);
  } finally {
    await page.close();
    await server.stop();
  }
}, 40_000);

test("/rooms typed on the page answers in the conversation too (the side panel is hidden on a phone); the page's own asks do not", async () => {
  const server = await startServer([]);
  const other = await TestSocket.open(`${server.url}/?name=gus&room=games`);
  const phone = await joinAs(server.url, "tess", { width: 360, height: 740 });
  try {
    await phone.waitForFunction(() => document.querySelector("#rooms")?.textContent?.includes("games"));
    expect(await phone.isVisible("#side")).toBe(false);
    expect((await logTexts(phone)).filter((text) => text.includes("Rooms:"))).toEqual([]);
    await say(phone, "/rooms");
    await waitForLog(phone, "Rooms:");
    const lines = (await logTexts(phone)).filter((text) => text.includes("Rooms:"));
    expect(lines.map((text) => text.replace(/^\d\d:\d\d/, ""))).toEqual(["Rooms: #chat (1), #games (1)"]);
  } finally {
    other.close();
    await phone.close();
    await server.stop();
  }
});

/** The message field's hint, its width as shown, and the width inside the field it has. */
const MEASURE_HINT = `(() => {
  const field = document.querySelector("#message");
  const style = getComputedStyle(field);
  const probe = document.createElement("span");
  probe.style.font = style.font;
  probe.style.letterSpacing = style.letterSpacing;
  probe.style.whiteSpace = "pre";
  probe.style.position = "absolute";
  probe.style.visibility = "hidden";
  probe.textContent = field.placeholder;
  document.body.append(probe);
  const width = probe.getBoundingClientRect().width;
  probe.remove();
  const room = field.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  return { hint: field.placeholder, width, room };
})()`;

/** The hint once it fits (the page fits it after a resize), or as it is after a few seconds. */
async function fittedHint(page: Page): Promise<{ hint: string; width: number; room: number }> {
  for (let attempt = 0; attempt < 30; attempt++) {
    const shown: { hint: string; width: number; room: number } = await page.evaluate(MEASURE_HINT);
    if (shown.width <= shown.room) return shown;
    await Bun.sleep(100);
  }
  return page.evaluate(MEASURE_HINT);
}

test("the message field's hint fits in the field at every width, a 360 px phone included, online and offline", async () => {
  const server = await startServer([]);
  const page = await joinAs(server.url, "turner", { width: 1100, height: 700 });
  try {
    const wide = await fittedHint(page);
    expect(wide.hint).toBe("Message · Shift+Enter for a new line · /help lists the commands");
    expect(wide.width).toBeLessThanOrEqual(wide.room);
    // Turned to a phone, and to a width where the side panel leaves the field less room than a phone's.
    for (const width of [360, 700]) {
      await page.setViewportSize({ width, height: 700 });
      const shown = await fittedHint(page);
      expect(shown.hint).toStartWith("Message");
      expect(shown.width).toBeLessThanOrEqual(shown.room);
    }
    await page.setViewportSize({ width: 360, height: 700 });
    await fittedHint(page);
    await server.stop();
    await page.waitForSelector("#status.reconnecting", { timeout: 8_000 });
    const offline = await fittedHint(page);
    expect(offline.hint).toStartWith("Offline");
    expect(offline.width).toBeLessThanOrEqual(offline.room);
    await page.screenshot({ path: join(ARTIFACTS, "page-phone-offline.png") });
  } finally {
    await page.close();
    await server.stop();
  }
}, 30_000);

test("a moderator's page has menus on people and messages; the topic shows in the top bar; a deleted message leaves every page", async () => {
  const server = await startServer(["--history", "20"]);
  const pages: Page[] = [];
  try {
    const alice = await joinAs(server.url, "alice");
    pages.push(alice);
    await say(alice, "/register correct-horse-battery");
    await say(alice, "/join dev");
    // Registering takes a password's hashing: /claim is refused until it is done, and is typed again.
    for (let attempt = 0; attempt < 10; attempt++) {
      await say(alice, "/claim");
      const owner = await alice.waitForSelector("#chat.moderator", { timeout: 1_000 }).catch(() => undefined);
      if (owner) break;
    }
    await alice.waitForSelector("#chat.moderator", { timeout: 1_000 });
    await say(alice, "/topic release planning");
    const gus = await joinAs(server.url, "gus");
    pages.push(gus);
    await say(gus, "/join dev");
    await gus.waitForFunction(() => document.querySelector("#topic")?.textContent === "release planning");
    await say(gus, "awful words");
    await waitForLog(alice, "awful words");
    // Only a moderator has the buttons.
    expect(await gus.isVisible("#log li.said button.delete")).toBe(false);
    expect(await gus.isVisible("#members summary")).toBe(false);

    const line = alice.locator("#log li.said", { hasText: "awful words" });
    await line.hover();
    await line.locator("button.delete").click();
    for (const page of [alice, gus])
      await page.waitForFunction(
        () =>
          [...document.querySelectorAll("#log li.said")].some((li) =>
            li.textContent?.includes("removed by a moderator"),
          ),
        undefined,
        { timeout: 8_000 },
      );
    for (const page of [alice, gus]) expect((await logTexts(page)).join("\n")).not.toContain("awful words");
    const later = await joinAs(server.url, "lee");
    pages.push(later);
    await say(later, "/join dev");
    await later.waitForFunction(() => document.querySelector("#room")?.textContent === "dev");
    await say(later, "here now");
    await waitForLog(later, "here now");
    expect((await logTexts(later)).join("\n")).not.toContain("awful words");

    await alice.click('summary[aria-label="Moderate gus"]');
    await alice.click('button[aria-label="Mute gus"]');
    // The menu puts the command in the field, to finish (a duration, or none) and send with Enter.
    expect(await alice.inputValue("#message")).toBe("/mute gus ");
    await alice.press("#message", "Enter");
    await waitForLog(gus, "You were muted in dev by alice");
    await alice.screenshot({ path: join(ARTIFACTS, "page-moderator.png") });
  } finally {
    for (const page of pages) await page.close();
    await server.stop();
  }
});
