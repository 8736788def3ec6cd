/**
 * A password typed on a command line in the message field (`/login alice hunter22`, `/register`,
 * `/password`, `/unregister`) is never on the screen: as soon as the line reaches its password
 * (`/login alice ` and its space), the command stays in view as text and what follows is typed in
 * a masked field in the message field's place. Enter sends the whole line, as from the message
 * field; Escape, or Backspace in the empty masked field, goes back to the command.
 */
import { missingSecret, secretStart } from "../common/commands";
import { setField } from "./field";

const messageInput = document.getElementById("message") as HTMLTextAreaElement;
const commandShown = document.getElementById("secret-command") as HTMLSpanElement;
const secretInput = document.getElementById("secret") as HTMLInputElement;

/** The line up to its password, while the password is being typed; undefined otherwise. */
let command: string | undefined;

/** From now on, a line typed in the message field moves to the masked field once its password begins. */
export function listenForSecrets(): void {
  // An input event comes before the field is painted again: the password is never drawn in it.
  messageInput.addEventListener("input", () => {
    const at = secretStart(messageInput.value);
    if (at !== undefined) askSecret(messageInput.value.slice(0, at), messageInput.value.slice(at));
  });
  secretInput.addEventListener("keydown", (event) => {
    const back = event.key === "Escape" || (event.key === "Backspace" && secretInput.value === "");
    if (!back || command === undefined) return;
    event.preventDefault();
    const line = command.trimEnd();
    closeSecret();
    setField(line);
  });
}

/** The line `line` (up to its password) waits for its password, typed masked; `typed` is what came of it already. */
export function askSecret(line: string, typed = ""): void {
  command = line;
  setField("");
  commandShown.textContent = line.trimEnd();
  const secrets = missingSecret(line)?.secrets ?? ["a password"];
  secretInput.placeholder = `${capitalized(secrets.join(" and "))}, hidden · Enter sends · Esc goes back`;
  secretInput.value = typed;
  messageInput.hidden = true;
  commandShown.hidden = false;
  secretInput.hidden = false;
  secretInput.focus();
}

/** The whole line, password and all, if one was being typed (the masked field gives its place back); else undefined. */
export function takeSecretLine(): string | undefined {
  if (command === undefined) return undefined;
  const line = command + secretInput.value;
  closeSecret();
  return line;
}

function closeSecret(): void {
  command = undefined;
  secretInput.value = "";
  secretInput.hidden = true;
  commandShown.hidden = true;
  messageInput.hidden = false;
  messageInput.focus();
}

const capitalized = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);
