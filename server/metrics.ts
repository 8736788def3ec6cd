/** What the server counts, and those counts in Prometheus' text format for GET /metrics. */

export type RefusalReason = "origin" | "token" | "full" | "perIp" | "connectRate" | "banned";

/** What is measured at the moment of asking, not counted. */
export interface Gauges {
  connections: number;
  rooms: number;
  historyBytes: number;
  addresses: number;
  unsentBytes: number;
  /** Event streams open on the HTTP API (/api/events). */
  eventStreams: number;
}

export class Metrics {
  readonly startedAt = Date.now();
  messagesIn = 0;
  deliveries = 0;
  bytesIn = 0;
  bytesOut = 0;
  refusedRate = 0;
  refusedSize = 0;
  closedFlooding = 0;
  closedSlow = 0;
  closedStalled = 0;
  closedUnsent = 0;
  /** Connections closed on a full server to let in someone from an address holding fewer. */
  closedForRoom = 0;
  refusedRooms = 0;
  replaysCut = 0;
  /** Redis operations that failed, by kind (redis/failures.ts). */
  readonly redisErrors = new Map<string, number>();
  /** What came from Redis and was skipped, by reason: another version of the format, or not ours. */
  readonly redisSkipped = new Map<string, number>();
  readonly refusedConnections: Record<RefusalReason, number> = {
    origin: 0,
    token: 0,
    full: 0,
    perIp: 0,
    connectRate: 0,
    banned: 0,
  };

  get uptimeSeconds(): number {
    return Math.round((Date.now() - this.startedAt) / 1000);
  }

  /** The counters, and the gauges given, in Prometheus' text format (version 0.0.4). */
  prometheus({ connections, rooms, historyBytes, addresses, unsentBytes, eventStreams }: Gauges): string {
    const lines: string[] = [];
    const metric = (name: string, type: "counter" | "gauge", help: string, value: number, labels = "") => {
      if (!labels || !lines.some((l) => l.startsWith(`# TYPE chat_${name} `)))
        lines.push(`# HELP chat_${name} ${help}`, `# TYPE chat_${name} ${type}`);
      lines.push(`chat_${name}${labels} ${value}`);
    };
    metric("connections", "gauge", "Open WebSocket connections.", connections);
    metric("rooms", "gauge", "Rooms with people in them, and the default room.", rooms);
    metric("history_bytes", "gauge", "Memory (estimated) the history of every room takes.", historyBytes);
    metric("addresses", "gauge", "Client address prefixes with a budget in use.", addresses);
    metric(
      "unsent_bytes",
      "gauge",
      "Bytes queued for readers and not yet taken by the network, closing sockets' included.",
      unsentBytes,
    );
    metric("event_streams", "gauge", "Event streams open on the HTTP API (/api/events).", eventStreams);
    metric("messages_received_total", "counter", "Frames received from clients.", this.messagesIn);
    metric("deliveries_total", "counter", "Frames sent to clients by broadcasts.", this.deliveries);
    metric("received_bytes_total", "counter", "Bytes (UTF-16 units) received in text frames.", this.bytesIn);
    metric("sent_bytes_total", "counter", "Bytes (UTF-16 units) sent in text frames.", this.bytesOut);
    metric("refused_messages_total", "counter", "Messages refused, by reason.", this.refusedRate, '{reason="rate"}');
    metric("refused_messages_total", "counter", "Messages refused, by reason.", this.refusedSize, '{reason="size"}');
    const closed = {
      flooding: this.closedFlooding,
      slow: this.closedSlow,
      stalled: this.closedStalled,
      server_backlog: this.closedUnsent,
      room_for_others: this.closedForRoom,
    };
    for (const [reason, value] of Object.entries(closed)) {
      metric(
        "closed_connections_total",
        "counter",
        "Connections closed by the server, by reason.",
        value,
        `{reason="${reason}"}`,
      );
    }
    metric(
      "refused_rooms_total",
      "counter",
      "New rooms refused because the server has --max-rooms.",
      this.refusedRooms,
    );
    metric("replays_cut_total", "counter", "Replays shortened by their address's --ip-replay budget.", this.replaysCut);
    for (const [reason, value] of Object.entries(this.refusedConnections)) {
      metric("refused_connections_total", "counter", "Upgrades refused, by reason.", value, `{reason="${reason}"}`);
    }
    this.#redisCounters(metric);
    metric("uptime_seconds", "gauge", "Seconds since the server started.", this.uptimeSeconds);
    return `${lines.join("\n")}\n`;
  }

  /** What failed on the Redis side, by operation, and what came from Redis and was skipped. */
  #redisCounters(metric: MetricLine): void {
    for (const [op, value] of this.redisErrors)
      metric("redis_errors_total", "counter", "Redis operations that failed, by operation.", value, `{op="${op}"}`);
    for (const [reason, value] of this.redisSkipped) {
      const help = "Envelopes from Redis skipped, by reason (another version of the format, or malformed).";
      metric("redis_skipped_total", "counter", help, value, `{reason="${reason}"}`);
    }
  }
}

/** Writes one metric's line, with its HELP and TYPE lines the first time. */
type MetricLine = (name: string, type: "counter" | "gauge", help: string, value: number, labels?: string) => void;
