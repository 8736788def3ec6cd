/**
 * The form the page opens on: a name, or none (then the server goes by the address), and the
 * server's token if it wants one (GET /auth says whether it does, and whether one is right; the
 * token goes in no URL). What is wrong is said under the form, and the cursor goes to the field at
 * fault. The name is remembered in this browser for the next visit.
 *
 * A registered name is refused until its owner logs in: the form then asks for its password. A
 * login kept from an earlier visit (kept-login.ts) logs in without it.
 */
import { nameProblem, normalizeName } from "../common/text";
import type { JoinRefusal, Login } from "./connection";
import { keptLogin } from "./kept-login";

const form = document.getElementById("welcome") as HTMLFormElement;
const nameInput = document.getElementById("name") as HTMLInputElement;
const problemLine = document.getElementById("name-problem") as HTMLParagraphElement;
const tokenField = document.getElementById("token-field") as HTMLDivElement;
const tokenInput = document.getElementById("token") as HTMLInputElement;
const passwordField = document.getElementById("password-field") as HTMLDivElement;
const passwordInput = document.getElementById("password") as HTMLInputElement;

const NAME_KEY = "chat.name";

/**
 * Joins with what the form was given: resolves to the server's reason if it refused the name (the
 * form asks again), or to nothing once in (or once past the form with no server to be had).
 */
export type Join = (
  name: string | undefined,
  token: string | undefined,
  login: Login | undefined,
) => Promise<JoinRefusal | undefined>;

/** The same name, whatever its case: a kept login's name as registered, and the one typed. */
const sameName = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

export class NameForm {
  /** Whether the server wants a token: asked as the page opens, before anyone types one. */
  readonly #tokenWanted = fetch("/auth").then(
    (answer) => answer.status === 401,
    () => false,
  );

  /** On a submission that passes the checks, `join` is called; `joined` once it let us in. */
  constructor(
    private readonly join: Join,
    private readonly joined: () => void,
  ) {
    nameInput.value = keptLogin.get()?.name ?? localStorage.getItem(NAME_KEY) ?? "";
    void this.#tokenWanted.then((wanted) => (tokenField.hidden = !wanted));
    // Another name is another question: the password asked for was the other name's.
    nameInput.addEventListener("input", () => {
      passwordField.hidden = true;
      passwordInput.value = "";
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      // One join at a time: a second Enter while the first is under way would race it.
      if (form.getAttribute("aria-busy") === "true") return;
      form.setAttribute("aria-busy", "true");
      void this.#submit().finally(() => form.removeAttribute("aria-busy"));
    });
  }

  async #submit(): Promise<void> {
    const name = normalizeName(nameInput.value);
    const problem = await this.#problem(name);
    problemLine.textContent = problem?.text ?? "";
    if (problem) return problem.field.focus();
    localStorage.setItem(NAME_KEY, name);
    // The chat shows once the server has let us in; a name it refuses is asked for again here.
    const token = (await this.#tokenWanted) ? tokenInput.value : undefined;
    const login = this.#login(name);
    const refused = await this.join(name === "" ? undefined : name, token, login);
    if (refused?.registered) return this.#askPassword(name, refused, login);
    if (refused) {
      problemLine.textContent = refused.reason;
      return nameInput.focus();
    }
    passwordInput.value = "";
    form.hidden = true;
    this.joined();
  }

  /** How to log in to `name`: with the password typed for it, or with the login kept from before. */
  #login(name: string): Login | undefined {
    if (!passwordField.hidden && passwordInput.value !== "") return { password: passwordInput.value };
    const kept = keptLogin.get();
    return kept && name !== "" && sameName(kept.name, name) ? { session: kept.token } : undefined;
  }

  /** The name is registered: its password is asked for (a kept login that did not do is forgotten). */
  #askPassword(name: string, refused: JoinRefusal, login: Login | undefined): void {
    if (login && "session" in login) keptLogin.forget();
    const wrong = login && "password" in login;
    problemLine.textContent = wrong
      ? refused.reason
      : `${name} is a registered name: type its password to log in, or choose another name.`;
    passwordField.hidden = false;
    passwordInput.focus();
    passwordInput.select();
  }

  /** What keeps the form from joining, and the field to put right; undefined if nothing does. */
  async #problem(name: string): Promise<{ text: string; field: HTMLInputElement } | undefined> {
    const wrongName = name === "" ? undefined : nameProblem(name); // none: going by the address
    if (wrongName) return { text: wrongName, field: nameInput };
    const wrongToken = await this.#tokenProblem();
    return wrongToken === undefined ? undefined : { text: wrongToken, field: tokenInput };
  }

  /** Why the token typed will not do, or undefined if it will (or none is wanted). */
  async #tokenProblem(): Promise<string | undefined> {
    if (!(await this.#tokenWanted)) return undefined;
    if (tokenInput.value === "") return "This server wants a token: type it above.";
    const answer = await fetch("/auth", { headers: { Authorization: `Bearer ${tokenInput.value}` } }).catch(
      () => undefined,
    );
    if (answer?.status === 401) return "That token is not this server's. Check it with the server's operator.";
    return answer?.ok ? undefined : "The server could not be reached to check the token. Try again in a moment.";
  }
}
