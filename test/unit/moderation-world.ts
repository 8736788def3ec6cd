/**
 * The world moderation's unit tests act in: a fake chat (fake-chat.ts) with `root` among its --ops,
 * a wall clock moved by hand, people who may be registered, and what to read of their sockets.
 */
import { nameSkeleton } from "../../common/lookalikes";
import type { SharedState } from "../../server/state/state";
import { chatWith } from "./fake-chat";

const NOON = Date.parse("2026-12-04T12:00:00Z");

/** A chat with `root` among its --ops, a wall clock moved by hand, and people who may be registered. */
export function world(limits: Parameters<typeof chatWith>[0] = {}, state?: SharedState) {
  let wall = NOON;
  // Passwords "hashed" at no cost: argon2id is for the end-to-end tests.
  const passwords = {
    hash: async (password: string) => `hashed:${password}`,
    verify: async (password: string, hash: string) => hash === `hashed:${password}`,
  };
  const chat = chatWith(limits, {}, undefined, {
    accounts: { guests: true, registration: true, passwords },
    moderation: { ops: ["root"], now: () => wall },
    ...(state && { state }),
  });
  const { accounts } = chat.chat;
  /** Someone connecting from `ip`, logged in to their registered name if `registered` (registered now if need be). */
  const person = (name: string, { ip = "10.0.0.1", room = null as string | null, registered = true } = {}) => {
    const who = chat.connect({ name: registered ? null : name, ip, room });
    if (registered) {
      const key = nameSkeleton(name);
      if (!accounts.store.accounts.has(key))
        void accounts.store.accounts.put(key, { name, hash: "hashed:correct-horse", created: "" });
      const row = accounts.store.accounts.get(key)!;
      accounts.logIn(who.member, { key, row }, undefined, { type: "account", name });
    }
    return { ...who, run: (command: object) => who.say(JSON.stringify(command)) };
  };
  const later = (ms: number) => (wall += ms);
  return { ...chat, person, later, moderation: chat.chat.moderation };
}

/** Lets the commands' writes (promises, even in memory) and what they set off run. */
export const settled = () => new Promise((resolve) => setImmediate(resolve));

export const lastError = (socket: { eventsOf(type: "error"): { code: string; message: string }[] }) => {
  const error = socket.eventsOf("error").at(-1);
  return error && { code: error.code, message: error.message };
};
export const moderationNotices = (socket: { eventsOf(type: "notice"): { event: string; text: string }[] }) =>
  socket
    .eventsOf("notice")
    .filter((n) => n.event === "moderation")
    .map((n) => n.text);
