/**
 * The private-message commands of a connection: `/msg NAME TEXT` (`dm`), `/r TEXT` (`reply`),
 * `/ignore NAME` and `/unignore NAME`. Sending goes through sendPrivate (private.ts), after the
 * budget of different people an address may write to (recipients.ts); the message budgets were
 * spent already, as for any frame (intake.ts).
 */
import { refusal } from "../../common/codes";
import type { Command } from "../../common/commands";
import { nameProblem, normalizeName } from "../../common/text";
import type { ChatContext } from "../context";
import { whenAnswered } from "../directory";
import type { Member } from "../member";
import { Ignores, MAX_IGNORED } from "./ignores";
import { RECIPIENTS_PER_WINDOW, WINDOW_MS } from "./recipients";

type PrivateCommand = Extract<Command, { type: "dm" | "reply" | "ignore" | "unignore" }>;

export function privateCommand(chat: ChatContext, member: Member, command: PrivateCommand): void {
  switch (command.type) {
    case "dm":
      return write(chat, member, command.to, command.text, command.id);
    case "reply": {
      const to = chat.privates.lastFrom(member);
      // A bot's message came through the HTTP API: its name may be anyone's here, so /r must not guess.
      if (to?.bot) {
        const bot = `The last private message came from ${to.name}, a bot (a program, through the HTTP API): it cannot be answered; /msg NAME TEXT writes to someone.`;
        return chat.refuse(member, refusal("not-found", bot), command.id);
      }
      // A guest's name is anyone's once they leave: the answer goes to them, or to nobody.
      if (to?.name && !to.registered && chat.privates.holderOf(to.name)?.address !== to.address) {
        const gone = `${to.name} (${to.address}), who wrote to you, has left; whoever has the name now is someone else.`;
        return chat.refuse(member, refusal("not-here", gone), command.id);
      }
      if (to?.name) return write(chat, member, to.name, command.text, command.id);
      const nobody = "Nobody has written to you privately yet; /msg NAME TEXT writes to someone.";
      return chat.refuse(member, refusal("not-found", nobody), command.id);
    }
    case "ignore":
    case "unignore":
      return ignore(chat, member, command.name, command.type === "ignore");
  }
}

/** Sends, once the budget of different people written to allows (with several instances, Redis has a say). */
function write(chat: ChatContext, member: Member, to: string, text: string, id: string | undefined): void {
  const logFailure = (error: unknown) => chat.log.line(`A private message from ${member.address} failed: ${error}`);
  const waiting = chat.privates.recipients.take(`address:${member.budget.prefix}`, to);
  whenAnswered(
    waiting,
    (waitMs) => {
      if (!member.open) return;
      if (waitMs > 0) return tooManyPeople(chat, member, waitMs, id);
      whenAnswered(
        chat.privates.send(member.user, to, text, id),
        (sent) => void ("code" in sent && chat.refuse(member, sent, id)),
        logFailure,
      );
    },
    logFailure,
  );
}

function tooManyPeople(chat: ChatContext, member: Member, waitMs: number, id: string | undefined): void {
  chat.metrics.refusedRate++;
  const seconds = Math.ceil(waitMs / 1000);
  const why = `Your address has written privately to ${RECIPIENTS_PER_WINDOW} different people in the last ${WINDOW_MS / 1000} s: wait ${seconds} s, or write to someone you wrote to just now.`;
  chat.refuse(member, refusal("rate-limited", why), id);
}

function ignore(chat: ChatContext, member: Member, wanted: string, ignored: boolean): void {
  const name = normalizeName(wanted);
  const problem = nameProblem(name);
  if (problem) return chat.refuse(member, refusal("name-invalid", problem));
  const { ignores } = chat.privates;
  const names = ignores.of(member);
  if (!ignored && !Ignores.has(names, name))
    return chat.refuse(member, refusal("not-found", `You do not ignore ${name}.`));
  if (ignored && !Ignores.has(names, name) && names.length >= MAX_IGNORED)
    return chat.refuse(
      member,
      refusal("bad-command", `You ignore ${MAX_IGNORED} people already: /unignore some first.`),
    );
  ignores.set(member, name, ignored).then(
    // A registered person's connections are told by the table's change, this one included.
    (now) => void (member.account === null && chat.send(member, { type: "ignoring", names: now })),
    (error) => chat.refuse(member, refusal("unavailable", `Your list could not be changed just now: ${error.message}`)),
  );
}
