/**
 * The usual alternative for bench/run.ts: a broadcast server on Node.js and the `ws` package,
 * written the way its README shows broadcasting (a loop over wss.clients). It does the same work as
 * bench/ceiling-server.ts: tag each message with the sender's address and send it to everyone.
 * Plain JavaScript, because Node 20 runs no TypeScript. Usage: node bench/node-server.mjs PORT
 */
import { WebSocket, WebSocketServer } from "ws";

const server = new WebSocketServer({ host: "127.0.0.1", port: Number(process.argv[2] ?? 0) });
server.on("connection", (ws, request) => {
  const tag = `${request.socket.remoteAddress}:${request.socket.remotePort}`;
  ws.on("message", (data, isBinary) => {
    if (isBinary) return;
    const text = `${tag}: ${data}`;
    for (const client of server.clients) if (client.readyState === WebSocket.OPEN) client.send(text);
  });
});
server.on("listening", () => console.log(`Listening on ws://127.0.0.1:${server.address().port}`));
