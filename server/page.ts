/**
 * The web page (web/), built once when the server starts: every instance sharing a port then
 * serves the same files from the first request (left to itself, Bun bundles an HTML import on
 * its first request, instance by instance, so a page from one instance could ask another for a
 * script it had not built yet), and each file goes out with headers of our own. In an executable
 * from `bun build --compile`, the page was built at compile time and is served from there.
 */

import { randomBytes } from "node:crypto";
import { join } from "node:path";
import type { HTMLBundle } from "bun";
import { isCompiled, StartError } from "../common/cli";
import page from "../web/index.html";

/**
 * Sent with every file of the page. The policy is the page's own <meta> one, plus what only a
 * header can say: no other site may frame the page (clickjacking); the browser must not guess a
 * file's type; no address of ours leaks to the sites people's links lead to.
 */
export const SECURITY_HEADERS = {
  "Content-Security-Policy":
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  "X-Frame-Options": "DENY",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
};

/** The page itself, at `/`, and its scripts and styles at their own paths. */
export interface Page {
  /** The HTML for `/`, or the compiled-in bundle (which Bun serves itself). */
  html: Response | HTMLBundle;
  assets: Record<string, Response>;
}

/**
 * In an executable, Bun serves the compiled-in bundle itself, with no headers of ours. It is
 * routed at a path nobody can guess (so no other site can frame it there), read once over HTTP
 * from ourselves, and answered at `/` with our headers; its files keep Bun's paths.
 */
export const BUNDLE_PATH = `/page-${randomBytes(16).toString("hex")}`;

export async function pageFromBundle(origin: string): Promise<Response> {
  // Our own server at our own address: its certificate, self-signed or not, is the one we hold.
  const answer = await fetch(`${origin}${BUNDLE_PATH}`, { tls: { rejectUnauthorized: false } });
  if (!answer.ok) throw new StartError(`The web page could not be read from the executable (${answer.status}).`);
  const html = await answer.arrayBuffer();
  return new Response(html, {
    headers: { ...SECURITY_HEADERS, "Content-Type": "text/html;charset=utf-8", "Cache-Control": "no-cache" },
  });
}

export async function buildPage(): Promise<Page> {
  if (isCompiled()) return { html: page, assets: {} };
  const built = await Bun.build({
    entrypoints: [join(import.meta.dir, "../web/index.html")],
    target: "browser",
    minify: true,
  });
  if (!built.success) throw new StartError(`The web page could not be built: ${built.logs.map(String).join("; ")}`);
  let html: Response | undefined;
  const assets: Record<string, Response> = {};
  for (const output of built.outputs) {
    // Scripts and styles are named by a hash of their content: they can be kept for good; the
    // page itself cannot.
    const isPage = output.path.endsWith(".html");
    const headers = {
      ...SECURITY_HEADERS,
      "Content-Type": output.type,
      "Cache-Control": isPage ? "no-cache" : "public, max-age=31536000, immutable",
    };
    const response = new Response(await output.arrayBuffer(), { headers });
    if (isPage) html = response;
    else assets[output.path.replace(/^\.?\//, "/")] = response;
  }
  if (!html) throw new StartError("The web page could not be built: the bundler gave no HTML.");
  return { html, assets };
}
