/**
 * What the page's tests share: Debian's headless Chromium (never a browser download), launched
 * once per file, with the flags this closed network wants; where their screenshots go, for a
 * person to look at; and reading the page's text.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { ROOT } from "./helpers";

/** What a callback given to waitForFunction finds in the page. */
declare const document: { querySelector(selector: string): { textContent: string | null } | null };

/** Screenshots for a person to look at (ignored by git). */
export const ARTIFACTS = join(ROOT, "test", "artifacts");

/** Chromium, headless; without the background-networking flags, this closed network refuses it many times a start. */
export function launchChromium(): Promise<Browser> {
  mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-sync"],
  });
}

/** The text of the first element matching `selector` ("" if none). */
export const textOf = (page: Page, selector: string) => page.textContent(selector).then((text) => text ?? "");

/** Waits (15 s at most: the machines are shared and slow) until `selector`'s text includes `text`. */
export const waitForText = (page: Page, selector: string, text: string) =>
  page.waitForFunction(
    ([selector, text]) => document.querySelector(selector!)?.textContent?.includes(text!) ?? false,
    [selector, text],
    { timeout: 15_000 },
  );
