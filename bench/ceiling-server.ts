/**
 * The baseline for bench/broadcast.ts: the smallest Bun pub/sub chat that does the same work per
 * message as server.ts (tag with the sender's address, publish to everyone), with no options,
 * no logging, no checks. Usage: bun bench/baseline-server.ts PORT
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
