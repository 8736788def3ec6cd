/**
 * Clack's guide: the bar down the left ("│  ") that what the client says on a terminal hangs from.
 * clack writes a long line as it is, and the terminal breaks it at its edge, mid-word and outside
 * the guide; what is said here is wrapped first, at words, to the screen less the guide, so that
 * each piece after the first gets the guide as clack prints the lines of a message.
 */

/** How wide the guide is: the bar or the symbol, and two spaces. */
const GUIDE_WIDTH = 3;

/** `words` as lines that fit the screen beside the guide, broken at words (a word too long for a line, in it). */
export function inGuide(words: string, columns = process.stdout.columns || 80): string[] {
  return Bun.wrapAnsi(words, Math.max(20, columns - GUIDE_WIDTH), { hard: true }).split("\n");
}
