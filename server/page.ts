/**
 * The web page (web/), built once when the server starts: every instance sharing a port then
 * serves the same files from the first request (left to itself, Bun bundles an HTML import on
 * its first request, instance by instance, so a page from one instance could ask another for a
 * script it had not built yet), and each file goes out with headers of our own. In an executable
 * from `bun build --compile`, the page was built at compile time and is served from there.
 */
import type { HTMLBundle } from "bun";
import { join } from "node:path";
import { isCompiled, StartError } from "../common/cli";
import page from "../web/index.html";

/** The page itself, at `/`, and its scripts and styles at their own paths. */
export interface Page {
  /** The HTML for `/`, or the compiled-in bundle (which Bun serves itself). */
  html: Response | HTMLBundle;
  assets: Record<string, Response>;
}

export async function buildPage(): Promise<Page> {
  if (isCompiled()) return { html: page, assets: {} };
  const built = await Bun.build({ entrypoints: [join(import.meta.dir, "../web/index.html")], target: "browser", minify: true });
  if (!built.success) throw new StartError(`The web page could not be built: ${built.logs.map(String).join("; ")}`);
  let html: Response | undefined;
  const assets: Record<string, Response> = {};
  for (const output of built.outputs) {
    // Scripts and styles are named by a hash of their content: they can be kept for good; the
    // page itself cannot.
    const isPage = output.path.endsWith(".html");
    const headers = { "Content-Type": output.type, "Cache-Control": isPage ? "no-cache" : "public, max-age=31536000, immutable" };
    const response = new Response(await output.arrayBuffer(), { headers });
    if (isPage) html = response;
    else assets[output.path.replace(/^\.?\//, "/")] = response;
  }
  if (!html) throw new StartError("The web page could not be built: the bundler gave no HTML.");
  return { html, assets };
}
