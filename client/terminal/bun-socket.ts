/**
 * Connecting as only Bun can, for the terminal client: Bun's WebSocket, which sends the token as
 * an Authorization header and trusts a certificate it is given, and a bare TCP probe of the
 * server's port. The session library (client/session/), which the page shares, uses neither.
 */
import {
  CONNECT_TIMEOUT_MS,
  ConnectError,
  describeConnectFailure,
  type OpenWebSocket,
  serverAddress,
} from "../session/connect";

/**
 * Bun's WebSocket: the token (if any) as `Authorization: Bearer`, `ca` (PEM) trusted for wss://,
 * and the `more` subprotocol entries the session offers (its session token's, logged in at once).
 */
export function bunWebSocket(ca: string | undefined): OpenWebSocket {
  return (url, protocol, token, more = []) =>
    new WebSocket(url, {
      protocols: more.length === 0 ? protocol : [protocol, ...more],
      ...(token !== undefined && { headers: { Authorization: `Bearer ${token}` } }),
      ...(ca !== undefined && { tls: { ca } }),
    });
}

/**
 * Whether anything listens at `url`'s host and port: a TCP connection, closed at once, worded as
 * the session would word its failure. It costs the server nothing (no handshake, no log line, no
 * join and leave for the room to see), so the terminal can check before asking for a name.
 */
export async function checkListening(url: string, shownUrl: string): Promise<void> {
  const { host, port } = serverAddress(url);
  let timer: Timer | undefined;
  const noAnswer = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(describeConnectFailure(shownUrl, url, "ETIMEDOUT", "")), CONNECT_TIMEOUT_MS);
  });
  try {
    const socket = await Promise.race([Bun.connect({ hostname: host, port, socket: { data() {} } }), noAnswer]);
    socket.end();
  } catch (error) {
    if (error instanceof ConnectError) throw error;
    throw describeConnectFailure(shownUrl, url, (error as { code?: string }).code, String(error));
  } finally {
    clearTimeout(timer);
  }
}
