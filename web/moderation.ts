/**
 * Moderation on the page: the room's topic in the top bar, and, for a moderator of the room (or
 * its owner, or an operator), a menu on each person (kick, mute, ban: each puts its command in the
 * message field to finish, moderation-command.ts) and a button on each message (delete). The menus are on the page for everyone but shown only to moderators (the chat's
 * `moderator` class): a role can come or go at any time, and the server checks every command anyway.
 * A message a moderator removed is shown as removed, its text gone from the page. The buttons'
 * words come from the style sheet, not the text of the page: a line's text stays what was said.
 */
import type { DeletedEvent, Role } from "../common/moderation-events";
import { listenToCommandField, type PersonAction, startCommand } from "./moderation-command";
import type { PageState } from "./state";

const chat = document.getElementById("chat") as HTMLDivElement;
const topicLine = document.getElementById("topic") as HTMLParagraphElement;
const log = document.getElementById("log") as HTMLOListElement;
const membersList = document.getElementById("members") as HTMLUListElement;

/** What a moderator may do to a person from the menu, as the command and its button's words. */
const PERSON_ACTIONS: readonly { action: PersonAction; label: string }[] = [
  { action: "kick", label: "Kick" },
  { action: "mute", label: "Mute" },
  { action: "ban", label: "Ban" },
];

/** Listens for the moderators' buttons, wherever they are on the page (one listener each for the log and the people). */
export function listenToModeration(state: PageState): void {
  log.addEventListener("click", (event) => {
    const button = (event.target as Element).closest<HTMLButtonElement>("button.delete");
    const seq = button?.closest<HTMLLIElement>("li.said")?.dataset.seq;
    if (seq) state.session?.send({ type: "delete", seq });
  });
  membersList.addEventListener("click", (event) => {
    const button = (event.target as Element).closest<HTMLButtonElement>("button[data-action]");
    const name = button?.dataset.name;
    if (!button || !name) return;
    // Not sent from here: the command waits in the field for its duration and reason, and Enter.
    startCommand(button.dataset.action as PersonAction, name);
    button.closest("details")?.removeAttribute("open");
  });
  listenToCommandField();
}

/** Our role in the room on show: the moderators' menus show with one. */
export function showRole(role: Role | undefined): void {
  chat.classList.toggle("moderator", role !== undefined);
}

/** The room's topic in the top bar (none: hidden). */
export function showTopic(topic: string | undefined): void {
  topicLine.textContent = topic ?? "";
  topicLine.title = topic ?? "";
  topicLine.hidden = !topic;
}

/** The button on a message that removes it: shown to moderators only. */
export function deleteButton(seq: number): HTMLButtonElement {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "delete mod-only";
  button.setAttribute("aria-label", `Delete message ${seq}`);
  return button;
}

/** The menu on a person (a name is what commands take): shown to moderators only. */
export function personMenu(name: string): HTMLDetailsElement {
  const menu = document.createElement("details");
  menu.className = "person-menu mod-only";
  const summary = document.createElement("summary");
  summary.setAttribute("aria-label", `Moderate ${name}`);
  menu.append(
    summary,
    ...PERSON_ACTIONS.map(({ action, label }) => {
      const button = document.createElement("button");
      button.type = "button";
      button.dataset.action = action;
      button.dataset.name = name;
      button.dataset.label = label;
      button.setAttribute("aria-label", `${label} ${name}`);
      return button;
    }),
  );
  return menu;
}

/** A message removed by a moderator: its line says so, and its text leaves the page. */
export function removeMessage({ seq }: DeletedEvent): void {
  for (const item of log.querySelectorAll<HTMLLIElement>(`li.said[data-seq="${seq}"]`)) {
    const time = item.querySelector("time");
    const body = document.createElement("span");
    body.className = "text";
    body.textContent = "removed by a moderator";
    item.replaceChildren(...(time ? [time] : []), body);
    item.className = "said removed";
  }
}
