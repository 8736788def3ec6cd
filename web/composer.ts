/**
 * Typing: Enter sends, Shift+Enter starts a new line of the same message (a pasted block stays one
 * message too); slash commands as in the terminal client; with a private conversation on show, a
 * message goes to its person. Focus stays in the field. A password on a command line is typed
 * masked (secret-field.ts). Offline, a message waits in the session's outbox and shows at once,
 * marked as waiting, until its echo comes back.
 */
import { type Command, CommandError, missingSecret, parseTyped, secretStart } from "../common/commands";
import type { AccountPanel } from "./account";
import type { Connection } from "./connection";
import { setField, tooLong } from "./field";
import { append, appendPending } from "./log";
import type { PeoplePanel } from "./people";
import { askSecret, listenForSecrets, takeSecretLine } from "./secret-field";
import type { PageState } from "./state";

const composer = document.getElementById("composer") as HTMLFormElement;
const messageInput = document.getElementById("message") as HTMLTextAreaElement;

/** Listens to the message field of the page whose state is `state`. */
export function listenToTyping(
  state: PageState,
  connection: Connection,
  panel: PeoplePanel,
  account: AccountPanel,
): void {
  listenForSecrets();
  messageInput.addEventListener("keydown", (event) => {
    if (event.key !== "Enter" || event.shiftKey || event.isComposing) return;
    event.preventDefault();
    composer.requestSubmit();
  });

  composer.addEventListener("submit", (event) => {
    event.preventDefault();
    const { session } = state;
    if (!session) return;
    const line = takeSecretLine() ?? messageInput.value;
    if (line.trim() === "") return;
    messageInput.focus();
    if (askForSecret(line, panel, account)) return;
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
    account.sent();
    if (command.type === "rooms") panel.roomsTyped();
    if (!state.online && isMessage && id !== undefined) appendPending(command.text, id);
  });
}

/**
 * A password is typed in a password field, never in the message field: a line that leaves it out
 * asks for it there. /register alone opens the form that asks for it twice, /login the name form
 * with its password field, /password and /unregister the masked field. True if the line was such.
 */
function askForSecret(line: string, panel: PeoplePanel, account: AccountPanel): boolean {
  const missing = missingSecret(line);
  const command = `${line.trimEnd()} `;
  if (!missing || (missing.type !== "login" && secretStart(command) === undefined)) return false;
  setField("");
  if (missing.type === "register") {
    panel.openDrawer(true);
    account.openForm(true);
  } else if (missing.type === "login") account.openLogin(missing.given[0]);
  else askSecret(command);
  return true;
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
