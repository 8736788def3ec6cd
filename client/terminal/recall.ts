/**
 * Up and Down in the input line, as a shell does them: Up shows the lines sent before, newest
 * first, and stops at the oldest; Down comes back, to the half-typed line there was before the
 * first Up. Typing anything else starts over from the newest the next time.
 */
export class Recall {
  readonly #sent: string[] = [];
  /** Which sent line is shown; `#sent.length` means none (the line being typed). */
  #index = 0;
  /** What was typed before the first Up, given back by Down. */
  #draft = "";

  /** A line was sent: it is the newest to recall. The same line twice in a row is kept once. */
  add(line: string): void {
    if (this.#sent.at(-1) !== line) this.#sent.push(line);
    if (this.#sent.length > 500) this.#sent.shift();
    this.edited();
  }

  /** The line to show on Up, given what the input holds now; undefined: nothing older. */
  older(current: string): string | undefined {
    if (this.#index === 0) return undefined;
    if (this.#index === this.#sent.length) this.#draft = current;
    return this.#sent[--this.#index];
  }

  /** The line to show on Down; undefined: already at the line being typed. */
  newer(): string | undefined {
    if (this.#index >= this.#sent.length) return undefined;
    this.#index++;
    return this.#index === this.#sent.length ? this.#draft : this.#sent[this.#index];
  }

  /** The input was changed by hand: the next Up starts from the newest again. */
  edited(): void {
    this.#index = this.#sent.length;
    this.#draft = "";
  }
}
