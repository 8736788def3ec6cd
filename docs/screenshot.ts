/**
 * Makes the README's picture, docs/page-and-terminal.png: the web page beside a terminal client in
 * one room, each showing the other's message. It starts a real server, a real Chromium (Debian's,
 * through playwright-core) and a real terminal (tmux), and stops them all when done.
 *
 * Usage: bun docs/screenshot.ts [OUTPUT.png]
 */
import { join } from "node:path";
import { chromium } from "playwright-core";
import { BUN, ROOT, startServer, Terminal } from "../test/helpers";

const output = process.argv[2] ?? join(import.meta.dir, "page-and-terminal.png");

const server = await startServer(["--history", "20"]);
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  // Without the background services, Chromium keeps trying hosts this machine cannot reach.
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
const terminal = new Terminal();
try {
  // 1. The page joins as ada; the terminal client as tess.
  const page = await browser.newPage({ viewport: { width: 760, height: 560 } });
  await page.goto(server.url.replace(/^ws/, "http"));
  await page.fill("#name", "ada");
  await page.press("#name", "Enter");
  await page.waitForSelector("#status.online");
  await terminal.start([BUN, join(ROOT, "client.ts"), "--name", "tess", server.url], { columns: 74, rows: 22 });
  await terminal.waitForScreen("the input line", (s) => s.includes("◆  tess in chat"));

  // 2. Each says something to the other, and tess is halfway through typing the next line.
  await page.fill("#message", "hi tess, this is the browser");
  await page.press("#message", "Enter");
  await terminal.waitForScreen("the browser's message", (s) => s.includes("this is the browser"));
  await terminal.type("hello ada, from a terminal");
  await terminal.press("Enter");
  await page.waitForFunction(
    () => document.querySelector("#log")?.textContent?.includes("from a terminal"),
    undefined,
    { timeout: 8_000 },
  );
  await terminal.type("typing…");
  await terminal.waitForScreen("the half-typed line", (s) => s.includes("typing…"));

  // 3. The page's screenshot and the terminal's screen, side by side in one picture.
  const screen = await terminal.screen();
  const pageShot = await page.screenshot();
  const composite = await browser.newPage({ viewport: { width: 1400, height: 600 } });
  await composite.setContent(
    `<body style="margin:0;display:flex;gap:16px;padding:16px;background:#d9dbe0;align-items:flex-start">` +
      `<img style="border-radius:8px;box-shadow:0 2px 8px #0003" src="data:image/png;base64,${pageShot.toString("base64")}">` +
      `<pre style="margin:0;padding:14px;border-radius:8px;background:#1e1f24;color:#e6e6e6;font:13px/1.35 'DejaVu Sans Mono',monospace;box-shadow:0 2px 8px #0003"></pre></body>`,
  );
  await composite.$eval("pre", (pre, text) => void (pre.textContent = text), screen);
  await composite.screenshot({ path: output, fullPage: true });
  process.stdout.write(`Written to ${output}\n`);
} finally {
  terminal.stop();
  await browser.close();
  await server.stop();
}

declare const document: { querySelector(selector: string): { textContent: string | null } | null };
