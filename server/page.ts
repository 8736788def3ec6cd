/**
 * The web page (web/), built once when the server starts: every instance sharing a port then
 * serves the same files from the first request (left to itself, Bun bundles an HTML import on
 * its first request, instance by instance, so a page from one instance could ask another for a
 * script it had not built yet), and each file goes out with headers of our own. In an executable
 * from `bun build --compile`, the page was built at compile time and is read from there.
 */

import { dirname, join, relative, sep } from "node:path";
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
  /** The scripts and styles, by the paths the HTML names them by. */
  assets: Record<string, Response>;
}

/**
 * A file of the page as it goes out, with our headers. Scripts and styles are named by a hash of
 * their content: they can be kept for good; the page itself cannot.
 */
function pageFile(body: ArrayBuffer, type: string, isPage: boolean): Response {
  const headers = {
    ...SECURITY_HEADERS,
    "Content-Type": type,
    "Cache-Control": isPage ? "no-cache" : "public, max-age=31536000, immutable",
  };
  return new Response(body, { headers });
}

/**
 * In an executable, the page was built at compile time: its files are in the executable's own
 * file system, listed by the HTML import. They are read from there and served as our own files,
 * never by routing the bundle itself: Bun would serve it without our headers, and with a bundle
 * among the routes a compiled server hands every unknown method (`FOO`, `get`) to fetch as GET.
 */
async function pageFromBundle(bundle: HTMLBundle): Promise<Page> {
  const root = dirname(bundle.index);
  let html: Response | undefined;
  const assets: Record<string, Response> = {};
  for (const file of bundle.files ?? []) {
    const isPage = file.path === bundle.index;
    const response = pageFile(await Bun.file(file.path).arrayBuffer(), file.headers["content-type"], isPage);
    if (isPage) html = response;
    else assets[`/${relative(root, file.path).split(sep).join("/")}`] = response;
  }
  if (!html) throw new StartError("The web page could not be read from the executable: it lists no HTML.");
  return { html, assets };
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
    const isPage = output.path.endsWith(".html");
    const response = pageFile(await output.arrayBuffer(), output.type, isPage);
    if (isPage) html = response;
    else assets[output.path.replace(/^\.?\//, "/")] = response;
  }
  if (!html) throw new StartError("The web page could not be built: the bundler gave no HTML.");
  return { html, assets };
}
