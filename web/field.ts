/**
 * The message field: it grows with its lines, says near the server's size limit how much is left,
 * and keeps what cannot be sent. A message over the limit is not sent and stays in it; one the
 * server refuses anyway comes back into it (or is named, if the field is in use again).
 */
import type { Status } from "../client/session/status";
import { append, failPendingMessage } from "./log";

const field = document.getElementById("message") as HTMLTextAreaElement;
const lengthLeft = document.getElementById("length-left") as HTMLSpanElement;

/** The longest message the server takes (its welcome's), in UTF-8 bytes of the message's text. */
let maxMessage = Infinity;
export function setMaxMessage(bytes: number): void {
  maxMessage = bytes;
}
const utf8Length = (text: string) => new TextEncoder().encode(text).length;

/** Puts `text` in the field (or empties it), sized to its lines. */
export function setField(text: string): void {
  field.value = text;
  fitField();
  showLengthLeft();
}

field.addEventListener("input", () => {
  fitField();
  showLengthLeft();
});

function fitField(): void {
  field.style.height = "auto";
  field.style.height = `${field.scrollHeight + 2}px`;
}

/** Near the limit, the field says how much is left. */
function showLengthLeft(): void {
  const left = maxMessage - utf8Length(field.value);
  lengthLeft.hidden = left > Math.min(200, maxMessage / 10);
  lengthLeft.textContent = left >= 0 ? `${left} left` : `${-left} too long`;
  lengthLeft.classList.toggle("over", left < 0);
}

/**
 * True, and says so, if `text` is over the server's limit: it is not to be sent (the server would
 * refuse it, and it would be gone from the field). The size given is the text's own, as the server
 * counts it.
 */
export function tooLong(text: string): boolean {
  const bytes = utf8Length(text);
  if (bytes <= maxMessage) return false;
  append(
    "error",
    `That message is ${bytes} bytes; the limit is ${maxMessage}. It was not sent: it is still in the field, to shorten.`,
  );
  return true;
}

/** The ids of refusals refused() has told: the server's error event for each says no more. */
const toldRefusals = new Set<string>();

/**
 * The server refused one of our messages anyway (too long for a server that came back with a lower
 * limit, say): its text goes back into the field if that is empty, or the line says which message
 * it was; its waiting copy is marked as not sent.
 */
export function refused({ command, message }: Extract<Status, { type: "refused" }>): void {
  if (command.id !== undefined) {
    failPendingMessage(command.id);
    toldRefusals.add(command.id);
  }
  const typed = asTyped(command);
  if (field.value === "" && !field.disabled) {
    setField(typed);
    return void append("error", `${message} It is back in the field.`);
  }
  const excerpt = typed.length > 60 ? `${typed.slice(0, 60)}…` : typed;
  append("error", `${message} The message: “${excerpt}”`);
}

/** A message of ours as it would be typed again. */
function asTyped(command: Extract<Status, { type: "refused" }>["command"]): string {
  switch (command.type) {
    case "me":
      return `/me ${command.text}`;
    case "dm":
      return `/msg ${command.to} ${command.text}`;
    case "reply":
      return `/r ${command.text}`;
    case "say":
      return command.text.replace(/^\//, "//");
  }
}

/** True if the error event with this id was told already, by refused(). */
export function toldAlready(id: string | undefined): boolean {
  return id !== undefined && toldRefusals.delete(id);
}
