/**
 * How chat events look in the terminal client: names in a colour of their own (nameColour, as on
 * the page), your own messages behind a green bar, history behind a dotted one, notices dimmed, a
 * local time on each line (clockTime, as on the page). Colour comes from node:util's styleText,
 * which leaves it out when NO_COLOR is set or the output is not a terminal.
 */
import { styleText } from "node:util";
import type { AccountEvent } from "../../common/account-events";
import type { ChatEvent, PrivateEvent, User } from "../../common/events";
import { nameSkeleton } from "../../common/lookalikes";
import { banLine, cameWhileAway, roleWords } from "../../common/plain-text";
import { clockTime, forTerminal, type NAME_COLOURS, nameColour, personMarks } from "../../common/text";
import type { IgnoreList } from "../session/ignoring";
import type { Whereabouts } from "../session/whereabouts";

/** Starts each line of a message after its first: as wide as the time and the space after it. */
const CONTINUATION = " ".repeat("00:00  ".length);

/**
 * The terminal's colours for other people's names, one for each of the NAME_COLOURS a name can
 * have (nameColour), in the order of the page's (web/style.css): red, orange, yellow, two greens,
 * teal, sky, blue, violet, purple, pink, slate. ANSI has ten colours to spare for names (green is
 * your own; black, white and grey read as the terminal's text, its background or a dimmed line),
 * so the page's greens take the nearest hue that is not green, and its slate the one left over.
 */
export const NAME_PALETTE = [
  "red",
  "yellow",
  "yellowBright",
  "yellowBright",
  "cyan",
  "cyan",
  "cyanBright",
  "blue",
  "blueBright",
  "magenta",
  "magentaBright",
  "redBright",
] as const satisfies { length: typeof NAME_COLOURS };

/** A private message's gutter and the colour of its arrow: unlike any room line's. */
const PRIVATE = "magenta";

/**
 * How events look on the terminal; who "you" are comes from the session's whereabouts, and whose
 * room messages are hidden from its ignore list.
 */
export class TerminalView {
  /** The registered account we are logged in to, from `account` events; null: a guest. */
  #account: string | null = null;

  constructor(
    private readonly where: Whereabouts,
    private readonly ignoring?: IgnoreList,
  ) {}

  /** The input line's title: who you are (✓: logged in to the name) and where. */
  title(): string {
    const { me, room } = this.where;
    if (!me) return "Message";
    const mark = this.#account !== null && me.name !== null ? " ✓" : "";
    return `${forTerminal(me.name ?? me.address)}${mark} in ${forTerminal(room ?? "")}`;
  }

  /** An event as lines for the terminal, with the gutter to print them behind; nothing for some. */
  render(event: ChatEvent): { text: string; gutter?: string } | undefined {
    const dim = (text: string) => styleText("dim", text);
    switch (event.type) {
      case "welcome":
        return undefined;
      case "joined":
        return this.#joined(event);
      case "message":
      case "action":
        return this.#said(event);
      case "notice": {
        const arrow = { join: "→", leave: "←", rename: "~", shutdown: "!", moderation: "⚑" }[event.event];
        return { text: dim(`${clockTime(event.time)}  ${arrow} ${forTerminal(event.text)}`) };
      }
      case "topic":
      case "role":
      case "deleted":
      case "bans":
      case "modlog":
        return this.#moderation(event);
      case "members":
        return {
          text: `In ${forTerminal(event.room)} (${event.members.length}): ${event.members.map((m) => this.who(m)).join(", ")}`,
        };
      case "rooms":
        return { text: `Rooms: ${event.rooms.map((r) => `${forTerminal(r.name)} (${r.members})`).join(", ")}` };
      case "earlier": {
        const shown = event.messages.filter((m) => !this.ignoring?.hides(m.from));
        if (shown.length === 0) return { text: dim(`Nothing earlier in ${forTerminal(event.room)}.`) };
        return { text: shown.map((m) => this.render({ ...m, history: true })!.text).join("\n"), gutter: dim("┊") };
      }
      case "dm":
      case "inbox":
      case "ignoring":
        return this.#privateEvent(event);
      case "help":
        return {
          text: ["Commands:", ...helpLines(event.commands, (help) => styleText("dim", help))].join("\n"),
        };
      case "error":
        return { text: styleText("yellow", forTerminal(event.message)), gutter: styleText("yellow", "▲") };
      case "account":
        this.#account = event.name;
        return { text: styleText("green", accountLine(event)), gutter: styleText("green", "✓") };
    }
  }

  /** Entering a room: who else is there, your role and the topic. */
  #joined(event: Extract<ChatEvent, { type: "joined" }>): { text: string } {
    const dim = (text: string) => styleText("dim", text);
    const others = event.members.filter((m) => !this.where.isMe(m));
    const unlisted = event.count - 1 - others.length;
    const who =
      others.length === 0
        ? "nobody else yet"
        : `${others.map((m) => this.who(m)).join(", ")}${unlisted > 0 ? ` and ${unlisted} more (/who lists them)` : ""}`;
    const role = event.role ? ` You are ${roleWords(event.role, forTerminal(event.room))}.` : "";
    const topic = event.topic ? `\n${CONTINUATION}Topic: ${forTerminal(event.topic)}` : "";
    return { text: dim(`${clockTime()}  You are in ${forTerminal(event.room)} with ${who}.${role}`) + topic };
  }

  /** A message or an action, numbered for a moderator; nothing for someone ignored. */
  #said(event: Extract<ChatEvent, { type: "message" | "action" }>): { text: string; gutter?: string } | undefined {
    const dim = (text: string) => styleText("dim", text);
    if (this.ignoring?.hides(event.from)) return undefined;
    const own = this.where.isMe(event.from);
    // Lines after the first start under the text, never at the time: no line a sender writes
    // can look like a line of its own (`12:00  bob: …`).
    const said = forTerminal(event.text).replaceAll("\n", `\n${CONTINUATION}`);
    const line =
      event.type === "message"
        ? `${this.who(event.from)}: ${said}`
        : styleText("italic", `* ${this.who(event.from)} ${said}`);
    // A moderator needs a message's number to /delete it.
    const numbered = this.where.role && !event.provisional ? `${dim(`#${event.seq}`)} ` : "";
    const text = `${dim(clockTime(event.time))}  ${numbered}${line}`;
    if (event.history) return { text, gutter: dim("┊") };
    return { text, gutter: own ? styleText("green", "┃") : undefined };
  }

  /** A private message, what was kept for you while away, and whom you ignore. */
  #privateEvent(
    event: Extract<ChatEvent, { type: "dm" | "inbox" | "ignoring" }>,
  ): { text: string; gutter: string } | { text: string } {
    const dim = (text: string) => styleText("dim", text);
    switch (event.type) {
      case "dm":
        return { text: this.#private(event), gutter: styleText(PRIVATE, "»") };
      case "inbox": {
        return {
          text: [cameWhileAway(event), ...event.messages.map((m) => this.#private(m))].join("\n"),
          gutter: styleText(PRIVATE, "»"),
        };
      }
      case "ignoring":
        return {
          text: dim(
            event.names.length === 0
              ? "You ignore nobody."
              : `You ignore ${event.names.map(forTerminal).join(", ")} (their private and room messages are hidden).`,
          ),
        };
    }
  }

  /**
   * A private message: `12:00  alice (127.0.0.1:5555) → you: hi`, or `12:00  you → bob: hi` for
   * ours (from this device or another), the arrow and its side in the private colour.
   */
  #private(event: PrivateEvent): string {
    const ours = this.where.wasMe(event.from) || this.#isMyName(event.from.name);
    const mark = (text: string) => styleText(["bold", PRIVATE], text);
    const later = event.kept ? styleText("dim", " (kept for their next login)") : "";
    const said = forTerminal(event.text).replaceAll("\n", `\n${CONTINUATION}`);
    const who = ours
      ? `${mark("you →")} ${this.who({ name: event.to.name, address: "" })}${later}`
      : `${this.who(event.from)} ${mark("→ you")}`;
    return `${styleText("dim", clockTime(event.time))}  ${who}: ${said}`;
  }

  #isMyName(name: string | null): boolean {
    const mine = this.where.me?.name;
    return !!name && !!mine && nameSkeleton(name) === nameSkeleton(mine);
  }

  /** What moderation shows: a topic, your role, a removed message, the bans and the log. */
  #moderation(event: Extract<ChatEvent, { type: "topic" | "role" | "deleted" | "bans" | "modlog" }>): { text: string } {
    const dim = (text: string) => styleText("dim", text);
    switch (event.type) {
      case "topic":
        return {
          text: `${dim(clockTime(event.time))}  ${forTerminal(event.by)} set the topic: ${forTerminal(event.text)}`,
        };
      case "role":
        return {
          text: dim(
            event.role
              ? `You are ${roleWords(event.role, forTerminal(event.room))} now: /help lists what you may do.`
              : `You have no role in ${forTerminal(event.room)} now.`,
          ),
        };
      case "deleted":
        return { text: dim(`Message #${event.seq} was removed by a moderator.`) };
      case "bans":
        if (event.bans.length === 0) return { text: `No bans in force in ${forTerminal(event.room)}.` };
        return {
          text: [
            `Bans in force in ${forTerminal(event.room)}${event.count > event.bans.length ? ` (the first ${event.bans.length} of ${event.count})` : ""}:`,
            ...event.bans.map((ban) => `  ${forTerminal(banLine(ban))}`),
          ].join("\n"),
        };
      case "modlog":
        if (event.entries.length === 0) return { text: `No moderation in ${forTerminal(event.room)} yet.` };
        return {
          text: [
            `Moderation in ${forTerminal(event.room)}:`,
            ...event.entries.map((e) => `  ${dim(clockTime(e.time))}  ${forTerminal(e.text)}`),
          ].join("\n"),
        };
    }
  }

  /**
   * A person as shown in a line: the name in its colour (yours in green) and the address dimmed;
   * ✓ after a registered name, ×2 after one person on two connections (personMarks).
   */
  private who(user: User): string {
    const own = this.where.isMe(user);
    const label = forTerminal(user.name ?? user.address);
    const styled = styleText(
      own ? ["bold", "green"] : ["bold", NAME_PALETTE[nameColour(user.name ?? user.address)]!],
      label,
    );
    const { registered, connections } = personMarks(user);
    const bot = user.bot ? ` ${styleText("dim", "[bot]")}` : "";
    const name = registered ? `${styled} ${styleText("cyan", registered)}${bot}` : `${styled}${bot}`;
    const shown = user.name && user.address ? `${name} ${styleText("dim", `(${forTerminal(user.address)})`)}` : name;
    return connections ? `${shown} ${styleText("dim", connections)}` : shown;
  }
}

/** A login or logout, in words; the token is the client's to keep, never shown. */
function accountLine({ name, token, temporary, text }: AccountEvent): string {
  // The server's words for a change of its own (a new password), or for what came with a login (a registration).
  if (text !== undefined && (token === undefined || name === null)) return forTerminal(text);
  if (name === null) return "Logged out: you are a guest now, and this device no longer logs in by itself.";
  const until = temporary && text === undefined ? " This server keeps accounts only until it stops." : "";
  const kept = token !== undefined ? "; this device stays logged in (/logout ends that)" : "";
  const line = `Logged in as ${forTerminal(name)}${kept}.${until}`;
  return text === undefined ? line : `${forTerminal(text)} ${line}`;
}

/** The column of usages in `/help`: most fit; a longer one has its words on the next line. */
const HELP_COLUMN = 22;

/**
 * The `/help` list as lines: each command's usage, then what it does (dimmed by `words`), in a
 * column that leaves room for the words, wrapped under it to fit `columns` (the screen's, less the
 * gutter). Too narrow for a column, the words go under their usage.
 */
function helpLines(
  commands: { usage: string; help: string }[],
  words = (help: string) => help,
  columns = (process.stdout.columns || 80) - 3,
): string[] {
  const width = Math.min(HELP_COLUMN, Math.max(...commands.map((c) => c.usage.length)));
  const stacked = columns - width - 4 < 24;
  const under = " ".repeat(stacked ? 6 : width + 4);
  const wrapped = (help: string) =>
    Bun.wrapAnsi(help, Math.max(20, columns - under.length), { hard: true })
      .split("\n")
      .map(words);
  return commands.map(({ usage, help }) => {
    const [first = "", ...rest] = wrapped(help);
    const head =
      !stacked && usage.length <= width ? [`  ${usage.padEnd(width)}  ${first}`] : [`  ${usage}`, under + first];
    return [...head, ...rest.map((piece) => under + piece)].join("\n");
  });
}
