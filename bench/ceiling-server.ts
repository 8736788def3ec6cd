/**
 * The ceiling for bench/run.ts: the smallest Bun pub/sub broadcast server, with no features. It
 * does the work the exercise asks of every message (tag it with the sender's address, publish it
 * to everyone) and nothing else: no options, no limits, no logging, no history.
 * Usage: bun bench/ceiling-server.ts PORT
 */
const server = Bun.serve<{ tag: string }>({
  hostname: "127.0.0.1",
  port: Number(process.argv[2] ?? 0),
  fetch(request, server) {
    const address = server.requestIP(request)!;
    if (server.upgrade(request, { data: { tag: `${address.address}:${address.port}` } })) return;
    return new Response("upgrade required", { status: 426 });
  },
  websocket: {
    open: (ws) => void ws.subscribe("chat"),
    message: (ws, message) => void server.publish("chat", `${ws.data.tag}: ${message}`),
  },
});
console.log(`Listening on ws://127.0.0.1:${server.port}`);
