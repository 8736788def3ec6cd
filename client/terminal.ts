/**
 * The interactive client, on a terminal: a clack session that asks for a name, shows a spinner
 * while connecting, then keeps an input line at the bottom while what is said in the room appears
 * above it, and what happens to the connection shows in the line's title.
 */
import { cancel, intro, isCancel, log, outro, spinner, text } from "@clack/prompts";
import { styleText } from "node:util";
import { CommandError, parseTyped } from "../common/commands";
import type { ChatEvent } from "../common/events";
import { messagesWere, nameProblem, normalizeName } from "../common/text";
import { exitAfterOutput, openOrExit } from "./exit";
import { InputLine } from "./input-line";
import type { SessionOptions, Status } from "./session";
import { TerminalView } from "./terminal-view";

/** A clack session: intro, a name, a spinner while connecting, then the input line until you leave. */
export async function chatInTerminal(options: SessionOptions): Promise<void> {
  intro(styleText("inverse", ` chat · ${options.url} `));

  // 1. A name, unless given: Enter keeps just the address.
  if (options.name === undefined) {
    const answer = await text({
      message: "Your name",
      placeholder: "Enter to go by your address only",
      validate: (value) => (value && value.trim() !== "" ? nameProblem(normalizeName(value)) : undefined),
    });
    if (isCancel(answer)) {
      cancel("Not connected.");
      return exitAfterOutput(0);
    }
    if (answer.trim() !== "") options = { ...options, name: normalizeName(answer) };
  }

  // 2. Connect.
  const connecting = spinner();
  connecting.start(`Connecting to ${options.url}`);
  const session = await openOrExit(options, (message) => connecting.error(message));
  if (!session) return;
  connecting.stop(`Connected to ${options.url}`);

  // 3. The input line; what arrives is printed above it, and so is what happens to the connection.
  const view = new TerminalView(session.where);
  let reconnecting: { attempt: number; frame: number; timer: Timer } | undefined;
  const input = new InputLine({
    title: "Message",
    hint: "Enter sends · /help lists commands · /quit leaves",
    onLine(line) {
      let command;
      try {
        command = parseTyped(line);
      } catch (error) {
        if (!(error instanceof CommandError)) throw error;
        return input.print(styleText("yellow", error.message), styleText("yellow", "▲"));
      }
      if (command.type === "quit") return input.end();
      session.send(command);
    },
  });
  const SPINNER = ["◒", "◐", "◓", "◑"];
  const retitle = () =>
    input.retitle(reconnecting ? `${view.title()} · ${SPINNER[reconnecting.frame % SPINNER.length]} reconnecting (attempt ${reconnecting.attempt})` : view.title());
  let ended: Extract<Status, { type: "ended" }> | undefined;
  const onEvent = (event: ChatEvent) => {
    const shown = view.render(event);
    if (shown) input.print(shown.text, shown.gutter);
    retitle();
  };
  session.listen(onEvent, (status) => {
    const warn = (message: string) => input.print(styleText("yellow", message), styleText("yellow", "▲"));
    switch (status.type) {
      case "lost":
        if (!reconnecting) {
          warn(`Connection lost (${status.reason}). Reconnecting; what you type waits.`);
          reconnecting = { attempt: status.attempt, frame: 0, timer: setInterval(() => (reconnecting && reconnecting.frame++, retitle()), 150) };
        }
        reconnecting.attempt = status.attempt;
        return retitle();
      case "reconnected":
        clearInterval(reconnecting?.timer);
        reconnecting = undefined;
        input.print(styleText("green", `Reconnected to ${options.url}.`), styleText("green", "✓"));
        return retitle();
      case "not-sent":
        return warn(`${messagesWere(status.count)} not sent: ${status.why}.`);
      case "ended":
        clearInterval(reconnecting?.timer);
        ended = status;
        return input.end();
    }
  });

  // 4. Until the user leaves, or the connection is over for good.
  await input.run();
  if (ended) {
    log.error(ended.message);
    return exitAfterOutput(ended.exitCode);
  }
  await session.close();
  outro("Left the chat.");
  exitAfterOutput(0);
}
