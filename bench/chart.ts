/**
 * The benchmark's chart: throughput by room size, a bar per set-up in its colour, as an SVG that
 * needs no script (throughput.svg, beside results.md).
 */
import { SERVER_NAMES, SERVERS, type ServerName } from "./servers";

const COLOURS: Record<ServerName, string> = {
  ours: "#2563eb",
  "ours-sse": "#db2777",
  ceiling: "#9ca3af",
  node: "#f59e0b",
  "ours-redis": "#60a5fa",
  "ours-redis-2": "#1e3a8a",
  "ours-bans": "#6d28d9",
  socketio: "#10b981",
  "socketio-redis": "#6ee7b7",
  "socketio-redis-2": "#065f46",
  "ours-store": "#7c3aed",
  "ours-accounts": "#c4b5fd",
};

/** Bars for throughput by room size, one per server, as an SVG chart that needs no script. */
export function throughputChart(
  sizes: number[],
  perSecond: Partial<Record<ServerName, number[]>>,
  caption: string,
): string {
  const servers = SERVER_NAMES.filter((name) => perSecond[name]);
  const width = 900;
  const legendRows = Math.ceil(servers.length / 3);
  const top = 30 + legendRows * 20;
  const bottom = top + 260;
  const height = bottom + 85;
  const left = 70;
  const highest = Math.max(...servers.flatMap((s) => perSecond[s]!), 1);
  const { y, parts } = valueAxis(highest, { top, bottom, left, right: width - 20 });
  const groupWidth = (width - left - 20) / sizes.length;
  const barWidth = (groupWidth - 30) / servers.length;
  sizes.forEach((size, g) => {
    const x0 = left + g * groupWidth + 15;
    servers.forEach((name, b) => {
      const value = perSecond[name]![g]!;
      const x = x0 + b * barWidth;
      parts.push(
        `<rect x="${x.toFixed(1)}" y="${y(value).toFixed(1)}" width="${(barWidth - 4).toFixed(1)}" height="${(bottom - y(value)).toFixed(1)}" fill="${COLOURS[name]}"/>`,
      );
      parts.push(
        `<text x="${(x + (barWidth - 4) / 2).toFixed(1)}" y="${(y(value) - 5).toFixed(1)}" text-anchor="middle" font-size="10">${(value / 1e6).toFixed(value >= 1e6 ? 1 : 2)}</text>`,
      );
    });
    parts.push(
      `<text x="${(x0 + (groupWidth - 30) / 2).toFixed(1)}" y="${bottom + 20}" text-anchor="middle">${size} clients</text>`,
    );
  });
  parts.push(...legend(servers, left));
  parts.push(`<text x="${left}" y="${height - 12}" font-size="11" fill="#4b5563">${caption}</text>`);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="13">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${left}" y="${bottom + 45}" font-size="12" fill="#4b5563">Deliveries per second at saturation, everyone in one room receiving every message (medians, in millions)</text>`,
    ...parts,
    `</svg>`,
    "",
  ].join("\n");
}

/**
 * The chart's value axis: round ticks (1, 2 or 5 times a power of ten), four to eight of them up
 * to `highest`, as grid lines and labels; and where a value goes on it.
 */
function valueAxis(highest: number, box: { top: number; bottom: number; left: number; right: number }) {
  const magnitude = 10 ** Math.floor(Math.log10(highest / 4));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((candidate) => highest / candidate <= 8)!;
  const ticks = Math.ceil(highest / step);
  const y = (v: number) => box.bottom - (v / (ticks * step)) * (box.bottom - box.top);
  const parts: string[] = [];
  for (let tick = 0; tick <= ticks; tick++) {
    const value = step * tick;
    parts.push(`<line x1="${box.left}" x2="${box.right}" y1="${y(value)}" y2="${y(value)}" stroke="#e5e7eb"/>`);
    parts.push(
      `<text x="${box.left - 8}" y="${y(value) + 4}" text-anchor="end">${Number((value / 1e6).toFixed(2))} M</text>`,
    );
  }
  return { y, parts };
}

/** The servers' colours and names, three to a row, above the chart. */
function legend(servers: ServerName[], left: number): string[] {
  return servers.flatMap((name, i) => {
    const [x, row] = [left + (i % 3) * 270, 12 + Math.floor(i / 3) * 20];
    return [
      `<rect x="${x}" y="${row}" width="12" height="12" fill="${COLOURS[name]}"/>`,
      `<text x="${x + 18}" y="${row + 10}">${SERVERS[name].label}</text>`,
    ];
  });
}
