/**
 * Reading a password for the operators' command line (cli.ts): the whole of stdin when it is piped
 * (its last line break left out), or, on a terminal, typed at a prompt that shows a `*` for each
 * character, twice, to catch a typo nobody could see. On a terminal a password that will not do
 * (too short, say) is asked for again at once, as are two that differ, a few times.
 */
import { UsageError } from "../../common/cli";

/** Times a terminal is asked before giving up. */
const TRIES = 3;

/** A password, checked by `problemOf` (undefined: it will do). */
export async function readPassword(
  prompt: string,
  problemOf: (password: string) => string | undefined,
): Promise<string> {
  if (!process.stdin.isTTY) {
    const piped = (await Bun.stdin.text()).replace(/\r?\n$/, "");
    if (piped === "")
      throw new UsageError("No password on stdin: pipe one in, or run this on a terminal to be asked for it.");
    const problem = problemOf(piped);
    if (problem) throw new UsageError(problem);
    return piped;
  }
  let why = "";
  for (let tried = 0; tried < TRIES; tried++) {
    if (why) process.stderr.write(`${why} Try again.\n`);
    const first = await askMasked(prompt);
    why = problemOf(first) ?? "";
    if (why) continue;
    if ((await askMasked("The same again: ")) === first) return first;
    why = "The two passwords differ.";
  }
  throw new UsageError(`${why} Nothing was changed.`);
}

/** One line typed on the terminal, shown as stars; Ctrl-C or Ctrl-D gives up. */
function askMasked(prompt: string): Promise<string> {
  const { stdin, stderr } = process;
  stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.resume();
  return new Promise((resolve, reject) => {
    let typed = "";
    const finish = (error?: Error) => {
      stdin.off("data", onData);
      stdin.setRawMode(false);
      stdin.pause();
      stderr.write("\n");
      if (error) reject(error);
      else resolve(typed);
    };
    const onData = (chunk: Buffer) => {
      for (const char of chunk.toString("utf8")) {
        if (char === "\r" || char === "\n") return finish();
        if (char === "\u0003" || char === "\u0004") return finish(new UsageError("Given up; nothing was changed."));
        if (char === "\u007f" || char === "\b") {
          if (typed.length > 0) {
            typed = Array.from(typed).slice(0, -1).join("");
            stderr.write("\b \b");
          }
        } else if (char >= " ") {
          typed += char;
          stderr.write("*");
        }
      }
    };
    stdin.on("data", onData);
  });
}
