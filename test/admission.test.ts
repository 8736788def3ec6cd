/**
 * Who may connect: origins, the token, --max-clients and --max-per-ip, and TLS; and what the
 * client says when it is refused.
 */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SUBPROTOCOL, tokenProtocol } from "../common/events";
import { BUN, ROOT, RUN, run, startServer, TestSocket } from "./helpers";

const CLIENT = [BUN, join(ROOT, "client.ts")];
const SERVER = [BUN, join(ROOT, "server.ts")];

describe("who may connect", () => {
  test("a browser page from another origin gets 403; the server's own origin, --allow-origin and no Origin are let in", async () => {
    const server = await startServer(["--allow-origin", "https://chat.example"]);
    try {
      const upgrade = (origin?: string) =>
        fetch(`http://127.0.0.1:${server.port}/`, {
          headers: {
            Upgrade: "websocket",
            Connection: "Upgrade",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
            "Sec-WebSocket-Version": "13",
            ...(origin && { Origin: origin }),
          },
        }).catch((error: Error) => ({ status: 101, text: async () => String(error) }));
      const evil = await upgrade("https://evil.example");
      expect(evil.status).toBe(403);
      expect(await evil.text()).toBe(
        "Origin https://evil.example is not allowed here; the server's operator can allow it with --allow-origin.\n",
      );
      for (const origin of [`http://127.0.0.1:${server.port}`, "https://chat.example", undefined]) {
        const socket = new WebSocket(
          server.url,
          origin ? ({ headers: { Origin: origin } } as unknown as string) : undefined,
        );
        await new Promise((resolve, reject) => {
          socket.onopen = resolve;
          socket.onerror = () => reject(new Error(`origin ${origin} was refused`));
        });
        socket.close();
      }
    } finally {
      await server.stop();
    }
  });

  test("with --token, a wrong or missing token gets 401; the client says so, exits 3, and does not retry", async () => {
    const server = await startServer(["--token", "s3cret"]);
    try {
      const refused = await run([...CLIENT, server.url], { input: "hi\n" });
      expect(refused).toEqual({
        exitCode: 3,
        stdout: "",
        stderr: `Could not connect to ${server.url}: the server wants a valid token (401). Pass it with --token or CHAT_TOKEN.\n`,
      });
      expect(await run([...CLIENT, "--token", "wrong", server.url], { input: "hi\n" })).toMatchObject({ exitCode: 3 });
      const allowed = await run([...CLIENT, server.url], { input: "hi\n", env: { CHAT_TOKEN: "s3cret" } });
      expect(allowed.stdout).toMatch(/^From server: 127\.0\.0\.1:\d+: hi\n$/);
      // A browser cannot send a header: the page offers the token as a subprotocol entry, never echoed.
      const viaProtocol = await TestSocket.open(server.url, [
        SUBPROTOCOL,
        tokenProtocol("s3cret"),
      ] as unknown as string);
      expect(viaProtocol.socket.protocol).toBe(SUBPROTOCOL);
      viaProtocol.close();
      // A token in the URL would end up in proxies' logs: it is not taken.
      expect(await TestSocket.open(`${server.url}/?token=s3cret`).catch((error: Error) => error.message)).toContain(
        "401",
      );
    } finally {
      await server.stop();
    }
  });

  test("past --max-clients the upgrade gets 503, past --max-per-ip 429; the client says so and exits 3", async () => {
    const server = await startServer(["--max-clients", "2", "--max-per-ip", "1"]);
    try {
      const first = await TestSocket.open(server.url);
      const perIp = await run([...CLIENT, server.url], { input: "hi\n" });
      expect(perIp).toEqual({
        exitCode: 3,
        stdout: "",
        stderr: `Could not connect to ${server.url}: too many connections from this address, or opened too fast (429). Close some, or wait a moment and try again.\n`,
      });
      first.close();
      await first.waitForClose();
    } finally {
      await server.stop();
    }
    const full = await startServer(["--max-clients", "1"]);
    try {
      const only = await TestSocket.open(full.url);
      const refused = await run([...CLIENT, full.url], { input: "hi\n" });
      expect(refused).toEqual({
        exitCode: 3,
        stdout: "",
        stderr: `Could not connect to ${full.url}: the server is full (503). Try again later.\n`,
      });
      only.close();
    } finally {
      await full.stop();
    }
  });

  test("TLS: --tls-cert/--tls-key serve wss://; the client trusts a self-signed certificate given with --ca", async () => {
    const dir = mkdtempSync(join(tmpdir(), "chat-tls-"));
    const [cert, key] = [join(dir, "cert.pem"), join(dir, "key.pem")];
    try {
      const made = await run([
        "openssl",
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        key,
        "-out",
        cert,
        "-days",
        "1",
        "-subj",
        "/CN=localhost",
        "-addext",
        "subjectAltName=IP:127.0.0.1,DNS:localhost",
      ]);
      expect(made.exitCode).toBe(0);
      const server = await startServer(["--tls-cert", cert, "--tls-key", key]);
      try {
        expect(server.url).toStartWith("wss://127.0.0.1:");
        // The certificate signed itself: the banner's command passes it, and ws:// is told to use wss://.
        expect(server.log()).toContain(`Connect a client with: ${RUN.client} --ca ${cert} ${server.url}\n`);
        const plainScheme = server.url.replace(/^wss:/, "ws:");
        expect((await run([...CLIENT, plainScheme], { input: "hi\n" })).stderr).toBe(
          `Could not connect to ${plainScheme}: the server closed the connection during the handshake. If it serves TLS, use ${server.url}; otherwise, is it a chat server?\n`,
        );
        const trusted = await run([...CLIENT, "--ca", cert, server.url], { input: "over tls\n" });
        expect(trusted.stdout).toMatch(/^From server: 127\.0\.0\.1:\d+: over tls\n$/);
        const untrusted = await run([...CLIENT, server.url], { input: "hi\n" });
        expect(untrusted.exitCode).toBe(1);
        expect(untrusted.stderr).toBe(
          `Could not connect to ${server.url}: its TLS certificate is not trusted (DEPTH_ZERO_SELF_SIGNED_CERT). For a self-signed certificate, pass it with --ca FILE.\n`,
        );
      } finally {
        await server.stop();
      }
      expect(await run([...SERVER, "--tls-cert", cert])).toMatchObject({
        exitCode: 2,
        stderr: `${RUN.server}: --tls-cert and --tls-key go together: give both or neither. Run '${RUN.server} --help' for usage.\n`,
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
