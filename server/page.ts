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
  /** The HTML for `/`. */
  html: Response;
  /** The scripts and styles: built files, or, in an executable, the compiled-in bundle that Bun serves. */
  assets: Record<string, Response | HTMLBundle>;
}

/**
 * In an executable, Bun serves the compiled-in bundle itself, with no headers of ours. It is
 * routed at a path nobody can guess (so no other site can frame it there), and its HTML is read
 * once, before the server listens, from a short-lived server of our own on the loopback address;
 * `/` answers it with our headers, and its files keep Bun's paths.
 */
export const BUNDLE_PATH = `/page-${randomBytes(16).toString("hex")}`;

async function pageFromBundle(bundle: HTMLBundle): Promise<Page> {
  const reader = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    routes: { [BUNDLE_PATH]: bundle },
    development: false,
    fetch: () => new Response(null, { status: 404 }),
  });
  try {
    const answer = await fetch(`http://127.0.0.1:${reader.port}${BUNDLE_PATH}`);
    if (!answer.ok) throw new StartError(`The web page could not be read from the executable (${answer.status}).`);
    const html = new Response(await answer.arrayBuffer(), {
      headers: { ...SECURITY_HEADERS, "Content-Type": "text/html;charset=utf-8", "Cache-Control": "no-cache" },
    });
    return { html, assets: { [BUNDLE_PATH]: bundle } };
  } finally {
    reader.stop(true);
  }
}

export async function buildPage(): Promise<Page> {
  if (isCompiled()) return pageFromBundle(page);
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
