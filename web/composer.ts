/**
 * Typing: Enter sends, Shift+Enter starts a new line of the same message (a pasted block stays one
 * message too); slash commands as in the terminal client; with a private conversation on show, a
 * message goes to its person. Focus stays in the field. Offline, a
 * message waits in the session's outbox and shows at once, marked as waiting, until its echo
 * comes back.
 */
import { type Command, CommandError, parseTyped } from "../common/commands";
import type { Connection } from "./connection";
import { setField, tooLong } from "./field";
import { append, appendPending } from "./log";
import type { PeoplePanel } from "./people";
import type { PageState } from "./state";

const composer = document.getElementById("composer") as HTMLFormElement;
const messageInput = document.getElementById("message") as HTMLTextAreaElement;

/** Listens to the message field of the page whose state is `state`. */
export function listenToTyping(state: PageState, connection: Connection, panel: PeoplePanel): void {
  messageInput.addEventListener("keydown", (event) => {
    if (event.key !== "Enter" || event.shiftKey || event.isComposing) return;
    event.preventDefault();
    composer.requestSubmit();
  });

  composer.addEventListener("submit", (event) => {
    event.preventDefault();
    const line = messageInput.value;
    const { session } = state;
    if (line.trim() === "" || !session) return;
    messageInput.focus();
    const command = toConversation(parseLine(line), state.privateWith);
    if (!command) return;
    const isMessage = command.type === "say" || command.type === "me";
    if (isMessage && tooLong(command.text)) return; // it stays in the field, to be shortened
    setField("");
    if (command.type === "quit") {
      void session.close();
      messageInput.disabled = true;
      connection.setStatus("offline", "Left");
      return void append("info", "You left the chat. Reload the page to come back.");
    }
    const id = session.send(command);
    if (command.type === "rooms") panel.roomsTyped();
    if (!state.online && isMessage && id !== undefined) appendPending(command.text, id);
  });
}

/** With a private conversation on show, a message typed goes to its person. */
function toConversation(command: Command | undefined, privateWith: string | undefined): Command | undefined {
  if (command?.type !== "say" || privateWith === undefined) return command;
  return { type: "dm", to: privateWith, text: command.text };
}

/** The command typed, or undefined after saying what is wrong with it (the field is emptied). */
function parseLine(line: string): Command | undefined {
  try {
    return parseTyped(line);
  } catch (error) {
    if (!(error instanceof CommandError)) throw error;
    setField("");
    append("error", error.message);
    return undefined;
  }
}
