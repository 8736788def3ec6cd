/**
 * A moderator's Kick, Mute or Ban from the menu on a person does nothing by itself: it puts the
 * command in the message field (`/ban gus `, the cursor after it), and a hint above the field says
 * what may follow (how long, why) and that Enter does it. One misclick bans nobody; a ban or mute
 * that should end, or say why, gets its duration and reason where the moderator can see them.
 * Escape, or a field that no longer holds the command, takes the hint away.
 */
const messageInput = document.getElementById("message") as HTMLTextAreaElement;
const composer = document.getElementById("composer") as HTMLFormElement;
const hint = document.getElementById("command-hint") as HTMLParagraphElement;

/**
 * Puts `text` in the message field as typing would: its own listeners (its size, its length left)
 * hear of it. (Not field.ts's setField: field.ts reaches the conversation, which reaches this.)
 */
function setField(text: string): void {
  messageInput.value = text;
  messageInput.dispatchEvent(new Event("input"));
}

/** What the menu's actions take after the name, and what the hint says of it (durations as common/commands.ts reads them). */
const FINISHING = {
  kick: { rest: "[REASON]", doing: "Enter kicks them out of the room; a reason, if any, is told to them" },
  mute: { rest: "[DURATION]", doing: "DURATION such as 10m, 2h, 7d (none: until lifted) · Enter mutes" },
  ban: { rest: "[DURATION] [REASON]", doing: "DURATION such as 10m, 2h, 7d (none: for good) · Enter bans" },
} as const;

export type PersonAction = keyof typeof FINISHING;

/** The command being finished in the field, while the hint is up. */
let started: string | undefined;

/** The field starts `/<action> <name> ` for the moderator to finish; the hint says how. */
export function startCommand(action: PersonAction, name: string): void {
  started = `/${action} ${name} `;
  setField(started);
  messageInput.focus();
  messageInput.setSelectionRange(started.length, started.length);
  const { rest, doing } = FINISHING[action];
  hint.textContent = `/${action} ${name} ${rest} · ${doing} · Esc cancels`;
  hint.hidden = false;
}

/** The hint goes once the command is sent, cancelled with Escape, or typed away. */
export function listenToCommandField(): void {
  const stillThere = () => {
    if (started !== undefined && !messageInput.value.startsWith(started)) closeHint();
  };
  messageInput.addEventListener("input", stillThere);
  // After the composer's own listener, which has sent the line and emptied the field.
  composer.addEventListener("submit", stillThere);
  messageInput.addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || started === undefined) return;
    setField("");
    closeHint();
  });
}

function closeHint(): void {
  started = undefined;
  hint.hidden = true;
  hint.textContent = "";
}
