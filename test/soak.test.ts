/**
 * A soak: a few hundred clients, half plain text and half JSON, in several rooms, chatting for
 * about 20 seconds within the default rate limit. Every client must receive every message of its
 * room exactly once, each sender's in the order sent, and nothing from other rooms.
 */
import { expect, test } from "bun:test";
import { SUBPROTOCOL } from "../common/events";
import { startServer, TestSocket, waitFor } from "./helpers";

const CLIENTS = 240;
const ROOMS = 4;
const ROUNDS = 20;
const ROUND_MS = 1_000;

test(`soak: ${CLIENTS} clients in ${ROOMS} rooms, one message a second each for ${ROUNDS} s`, async () => {
  const server = await startServer([
    "--quiet",
    "--history",
    "0",
    "--max-per-ip",
    String(CLIENTS + 10),
    "--ip-connect-rate",
    "0",
    "--ip-rate",
    "0",
  ]);
  try {
    // 1. Everyone connects, in batches, each to its room.
    const clients: { socket: TestSocket; room: string; json: boolean }[] = [];
    for (let batch = 0; batch < CLIENTS; batch += 40) {
      const opened = await Promise.all(
        Array.from({ length: Math.min(40, CLIENTS - batch) }, async (_, k) => {
          const index = batch + k;
          const json = index % 2 === 1;
          const room = `room${index % ROOMS}`;
          return {
            socket: await TestSocket.open(`${server.url}/?room=${room}`, json ? SUBPROTOCOL : undefined),
            room,
            json,
          };
        }),
      );
      clients.push(...opened);
    }
    let connections = 0;
    for (let attempt = 0; attempt < 100 && connections < CLIENTS; attempt++) {
      connections = ((await (await fetch(`http://127.0.0.1:${server.port}/healthz`)).json()) as { connections: number })
        .connections;
      if (connections < CLIENTS) await Bun.sleep(50);
    }
    expect(connections).toBe(CLIENTS);

    // 2. Each round, each client says one thing at a random moment within the round.
    for (let round = 1; round <= ROUNDS; round++) {
      await Promise.all(
        clients.map(
          ({ socket, json }, index) =>
            new Promise<void>((resolve) =>
              setTimeout(
                () => {
                  const text = `c${index} m${round}`;
                  socket.send(json ? JSON.stringify({ type: "say", text }) : text);
                  resolve();
                },
                Math.random() * ROUND_MS * 0.9,
              ),
            ),
        ),
      );
      await Bun.sleep(ROUND_MS * 0.1);
    }

    // 3. Everyone gets everything of its room, once, in each sender's order.
    const said = (client: (typeof clients)[number]): string[] =>
      client.json
        ? client.socket.events.filter((e) => e.type === "message").map((e) => e.text)
        : client.socket.chat.map((line) => line.slice(line.indexOf(": ") + 2));
    const perRoom = CLIENTS / ROOMS;
    await waitFor(
      () => `every client's ${perRoom * ROUNDS} messages`,
      () => (clients.every((client) => said(client).length >= perRoom * ROUNDS) ? true : undefined),
      20_000,
    );
    for (const client of clients) {
      const texts = said(client);
      expect(texts).toHaveLength(perRoom * ROUNDS);
      const bySender = new Map<number, number[]>();
      for (const text of texts) {
        const [, sender, round] = /^c(\d+) m(\d+)$/.exec(text)!;
        expect(`room${Number(sender) % ROOMS}`).toBe(client.room);
        bySender.set(Number(sender), [...(bySender.get(Number(sender)) ?? []), Number(round)]);
      }
      expect(bySender.size).toBe(perRoom);
      for (const rounds of bySender.values()) expect(rounds).toEqual(Array.from({ length: ROUNDS }, (_, n) => n + 1));
    }
    const metrics = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
    expect(metrics).toContain('chat_refused_messages_total{reason="rate"} 0\n');
    expect(metrics).toContain('chat_closed_connections_total{reason="slow"} 0\n');
    for (const { socket } of clients) socket.close();
  } finally {
    await server.stop();
  }
}, 90_000);
