/**
 * The framework most chat apps on Node.js are built on, for bench/run.ts: Socket.IO, doing the
 * same broadcast as the other servers (tag each message with the sender's address, send it to
 * everyone, the sender included) with `io.emit`, the way its chat example does. With a Redis URL it
 * uses the official Redis adapter (@socket.io/redis-adapter over node-redis), the usual way to run
 * Socket.IO on several processes: every instance started with the same URL is one chat.
 *
 * Only the WebSocket transport is offered, as the load generator speaks it directly (Engine.IO
 * v4 packets over one WebSocket: `42["m","<text>"]`); HTTP long-polling would only be slower.
 * Plain JavaScript, because Node 20 runs no TypeScript.
 * Usage: node bench/socketio-server.mjs PORT [REDIS_URL]
 */
import { createServer } from "node:http";
import { Server } from "socket.io";

const [port, redisUrl] = process.argv.slice(2);
const http = createServer();
const io = new Server(http, { transports: ["websocket"], serveClient: false });

if (redisUrl) {
  const { createClient } = await import("redis");
  const { createAdapter } = await import("@socket.io/redis-adapter");
  const publisher = createClient({ url: redisUrl });
  const subscriber = publisher.duplicate();
  for (const client of [publisher, subscriber]) client.on("error", (error) => console.error(`Redis: ${error.message}`));
  await Promise.all([publisher.connect(), subscriber.connect()]);
  io.adapter(createAdapter(publisher, subscriber));
}

io.on("connection", (socket) => {
  const tag = `${socket.conn.remoteAddress}:${socket.request.socket.remotePort}`;
  socket.on("m", (text) => {
    if (typeof text === "string") io.emit("m", `${tag}: ${text}`);
  });
});
http.listen(Number(port ?? 0), "127.0.0.1", () => console.log(`Listening on ws://127.0.0.1:${http.address().port}`));
