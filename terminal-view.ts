/**
 * How chat events look in the terminal client: names in a colour of their own (the same in every
 * client), your own messages behind a green bar, history behind a dotted one, notices dimmed, a
 * local time on each line. Colour comes from node:util's styleText, which leaves it out when
 * NO_COLOR is set or the output is not a terminal.
 */
import { styleText } from "node:util";
import { nameHash, type ChatEvent, type User } from "./protocol";

/**
 * Control characters in a message could drive the reader's terminal (clear it, move the cursor,
 * set its title); show them as U+FFFD instead. Newlines and tabs are kept.
 */
export function forTerminal(text: string): string {
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, "\uFFFD");
}

/** Colours for other people's names; green is kept for your own messages. */
const NAME_COLOURS = ["cyan", "magenta", "yellow", "blue", "red", "cyanBright", "magentaBright", "yellowBright", "blueBright", "redBright"] as const;

/** The same name gets the same colour every time, in every terminal. */
export function colourOf(key: string): (typeof NAME_COLOURS)[number] {
  return NAME_COLOURS[nameHash(key) % NAME_COLOURS.length]!;
}

/** Local time of day, 24-hour: "09:05". */
export function clock(time: string | Date = new Date()): string {
  const date = new Date(time);
  return `${String(date.getHours()).padStart(2, "0")}:${String(date.getMinutes()).padStart(2, "0")}`;
}

/**
 * How events look on the terminal, and what the client knows of itself: who the server takes it
 * for (from `welcome` and renames) and its room (from `joined`).
 */
export class TerminalView {
  me: User | undefined;
  room = "";

  /** The input line's title: who you are and where. */
  title(): string {
    if (!this.me) return "Message";
    return `${forTerminal(this.me.name ?? this.me.address)} in ${forTerminal(this.room)}`;
  }

  /** An event as lines for the terminal, with the gutter to print them behind; nothing for some. */
  render(event: ChatEvent): { text: string; gutter?: string } | undefined {
    const dim = (text: string) => styleText("dim", text);
    switch (event.type) {
      case "welcome":
        this.me = event.you;
        return undefined;
      case "joined": {
        this.room = event.room;
        const others = event.members.filter((m) => m.address !== this.me?.address);
        const unlisted = event.count - 1 - others.length;
        const who =
          others.length === 0 ? "nobody else yet" : `${others.map((m) => this.who(m)).join(", ")}${unlisted > 0 ? ` and ${unlisted} more (/who lists them)` : ""}`;
        return { text: dim(`${clock()}  You are in ${forTerminal(event.room)} with ${who}.`) };
      }
      case "message":
      case "action": {
        const own = event.from.address === this.me?.address;
        const said = forTerminal(event.text);
        const line = event.type === "message" ? `${this.who(event.from)}: ${said}` : styleText("italic", `* ${this.who(event.from)} ${said}`);
        if (event.history) return { text: `${dim(clock(event.time))}  ${line}`, gutter: dim("┊") };
        return { text: `${dim(clock(event.time))}  ${line}`, gutter: own ? styleText("green", "┃") : undefined };
      }
      case "notice": {
        if (event.event === "rename" && event.user && event.user.address === this.me?.address) this.me = event.user;
        const arrow = { join: "→", leave: "←", rename: "~", shutdown: "!" }[event.event];
        return { text: dim(`${clock(event.time)}  ${arrow} ${forTerminal(event.text)}`) };
      }
      case "members":
        return { text: `In ${forTerminal(event.room)} (${event.members.length}): ${event.members.map((m) => this.who(m)).join(", ")}` };
      case "rooms":
        return { text: `Rooms: ${event.rooms.map((r) => `${forTerminal(r.name)} (${r.members})`).join(", ")}` };
      case "help":
        return { text: ["Commands:", ...event.commands.map((c) => `  ${c.usage.padEnd(12)} ${dim(c.help)}`)].join("\n") };
      case "error":
        return { text: styleText("yellow", forTerminal(event.message)), gutter: styleText("yellow", "▲") };
    }
  }

  /** A person as shown in a line: the name in its colour (yours in green) and the address dimmed. */
  private who(user: User): string {
    const own = user.address === this.me?.address;
    const label = forTerminal(user.name ?? user.address);
    const styled = styleText(own ? ["bold", "green"] : ["bold", colourOf(user.name ?? user.address)], label);
    return user.name ? `${styled} ${styleText("dim", `(${forTerminal(user.address)})`)}` : styled;
  }
}
