/**
 * Who holds which name. Names are unique regardless of case: on this instance by this registry,
 * across instances by the directory, which is asked before a name is given. While it answers,
 * the name is reserved here, so that nobody else on this instance takes it meanwhile.
 */
import { nameProblem, normalizeName } from "../common/text";
import { whenAnswered, type Directory } from "./directory";
import type { Member } from "./member";

export class Names {
  /** Who holds each name, by its lower-case form. */
  readonly #holders = new Map<string, Member>();
  /** Names being claimed through the directory right now. */
  readonly #reserved = new Set<string>();

  constructor(private readonly directory: Directory) {}

  /**
   * Gives `member` the name if it is free here and on every other instance, then calls `done`
   * with the refusal, if any: at once for a single instance, once Redis answers with several.
   */
  claim(member: Member, wanted: string, done: (problem?: string) => void): void {
    const checked = this.#check(member, wanted);
    if ("problem" in checked) return done(checked.problem);
    const { name } = checked;
    const key = name.toLowerCase();
    this.#reserved.add(key);
    whenAnswered(
      this.directory.claimName(name, member.address),
      (free) => this.#claimed(member, name, free, done),
      // Redis did not answer: this instance decides alone, as when it is down.
      () => this.#claimed(member, name, true, done),
    );
  }

  /** Lets go of the member's name (it left). */
  release(member: Member): void {
    const { name } = member;
    if (!name || this.#holders.get(name.toLowerCase()) !== member) return;
    this.#holders.delete(name.toLowerCase());
    this.directory.releaseName(name, member.address);
  }

  #claimed(member: Member, name: string, free: boolean, done: (problem?: string) => void): void {
    this.#reserved.delete(name.toLowerCase());
    if (!member.open) {
      if (free) this.directory.releaseName(name, member.address);
      return;
    }
    if (!free) return done(`The name '${name}' is taken; choose another.`);
    this.release(member);
    this.#holders.set(name.toLowerCase(), member);
    member.name = name;
    done();
  }

  /** The name in its normal form if `member` may have it as far as this instance knows, or why not. */
  #check(member: Member, wanted: string): { name: string } | { problem: string } {
    const name = normalizeName(wanted);
    const problem = nameProblem(name);
    if (problem) return { problem };
    const key = name.toLowerCase();
    const holder = this.#holders.get(key);
    if ((holder && holder !== member) || this.#reserved.has(key)) return { problem: `The name '${name}' is taken; choose another.` };
    if (member.name === name) return { problem: `You are already ${name}.` };
    return { name };
  }
}
