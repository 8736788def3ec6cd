/**
 * A field's placeholder that is never cut off: of a few wordings, longest first, the field shows
 * the longest that fits its width, and chooses again whenever its width changes (a phone turned, a
 * window resized, the chat shown after the name form).
 */

/** A canvas only to measure text with: the width a wording takes in the field's font. */
const measure = document.createElement("canvas").getContext("2d");

export class FittingPlaceholder {
  #wordings: readonly string[] = [];

  constructor(private readonly field: HTMLTextAreaElement | HTMLInputElement) {
    new ResizeObserver(() => this.#fit()).observe(field);
  }

  /** The wordings to choose from, longest first; the last is shown when none fits. */
  set wordings(wordings: readonly string[]) {
    this.#wordings = wordings;
    this.#fit();
  }

  #fit(): void {
    const style = getComputedStyle(this.field);
    const room = this.field.clientWidth - Number.parseFloat(style.paddingLeft) - Number.parseFloat(style.paddingRight);
    if (measure) {
      measure.font = style.font;
      measure.letterSpacing = style.letterSpacing === "normal" ? "0px" : style.letterSpacing;
    }
    // Without a canvas to measure with, the shortest is safest.
    const fits = (wording: string) => measure !== null && Math.ceil(measure.measureText(wording).width) <= room;
    const chosen = this.#wordings.find(fits) ?? this.#wordings.at(-1) ?? "";
    if (this.field.placeholder !== chosen) this.field.placeholder = chosen;
  }
}
