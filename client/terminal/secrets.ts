/**
 * Passwords typed in the terminal client. A line that carries one (`/login alice hunter22`) shows
 * it as dots while it is typed, and is never recalled with Up; a line that leaves it out
 * (`/login alice`) has the client ask for it, masked, and the command is made from the line and
 * the answers, never from a line with the password in it.
 */
import { type Command, carriesSecret, missingSecret, parseTyped, typedSpec } from "../../common/commands";

/** One question for a secret the line left out: its title, and whether to ask twice (a new password). */
export interface SecretQuestion {
  title: string;
  confirm: boolean;
}

const MASK = "•";

/** The typed command word and the arguments after it. */
function splitLine(line: string): { typed: string; restAt: number } {
  const [, typed = "", rest = ""] = /^\/(\S*)\s*([\s\S]*)$/.exec(line) ?? [];
  return { typed, restAt: line.length - rest.length };
}

/** The arguments of the command typed as `/<typed>`, the plain ones and the secret ones, each in order. */
function argumentsOf(typed: string) {
  const args = typedSpec(typed)?.arguments ?? [];
  return { plain: args.filter((a) => !a.secret), secret: args.filter((a) => a.secret) };
}

/**
 * `line` as the screen may show it: the secret part (after the command and its plain arguments)
 * as dots, one for each UTF-16 unit, so that a cursor's index in the line is its index in what is
 * shown. The spaces in it too: `/password OLD NEW` must not show where one password ends.
 */
export function masked(line: string): string {
  if (!carriesSecret(line)) return line;
  const { typed, restAt } = splitLine(line);
  let at = restAt;
  for (let i = 0; i < argumentsOf(typed).plain.length; i++) {
    const word = /^\S*\s*/.exec(line.slice(at))?.[0] ?? "";
    at += word.length;
  }
  return line.slice(0, at) + MASK.repeat(line.length - at);
}

/** A whole answer shown as dots. */
export const dots = (text: string) => MASK.repeat(text.length);

/**
 * The questions to ask for the secrets `line` leaves out (`/login alice`: alice's password);
 * undefined when it leaves none out, or leaves out more than secrets (then parseTyped says what
 * the line needs).
 */
export function secretQuestions(line: string): SecretQuestion[] | undefined {
  const missing = missingSecret(line);
  if (!missing) return undefined;
  const { typed } = splitLine(line);
  const { plain, secret } = argumentsOf(typed);
  if (missing.given.length < plain.length) return undefined;
  const shown = [`/${typed.toLowerCase()}`, ...missing.given].join(" ");
  return secret.map((argument) => ({
    title: `${capitalized(argument.what)} for ${shown}`,
    // A password being made is asked twice: a typing mistake in it would lock its owner out.
    confirm: missing.type === "register" || argument.field === "new",
  }));
}

/** The command of a line that left its secrets out, with them put in, in the order asked. */
export function withSecrets(line: string, answers: string[]): Command {
  const missing = missingSecret(line);
  if (!missing) return parseTyped(line);
  const { plain, secret } = argumentsOf(splitLine(line).typed);
  const command: Record<string, string> = { type: missing.type };
  for (const [i, argument] of plain.entries()) command[argument.field] = missing.given[i] ?? "";
  for (const [i, argument] of secret.entries()) command[argument.field] = answers[i] ?? "";
  return command as unknown as Command;
}

const capitalized = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);
