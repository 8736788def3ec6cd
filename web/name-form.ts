/**
 * The form the page opens on: a name, or none (then the server goes by the address), and the
 * server's token if it wants one (GET /auth says whether it does, and whether one is right; the
 * token goes in no URL). What is wrong is said under the form, and the cursor goes to the field at
 * fault. The name is remembered in this browser for the next visit.
 *
 * A registered name is refused until its owner logs in: the form then asks for its password. On a
 * server for registered accounts only (--guests no) every name is a registered one: the form says
 * so, and what to do without an account, and asks for the account's name and its password. A
 * login kept from an earlier visit (kept-login.ts) joins as the page opens, logged in, without a
 * click; one the server no longer takes is forgotten, and the form asks as it would have. From the
 * chat, "Log in" (or `/login`) brings the form back with its password field, to log in on the
 * connection we have.
 */
import { NO_ACCOUNT } from "../common/account-events";
import { nameProblem, normalizeName } from "../common/text";
import type { JoinRefusal, Login } from "./connection";
import { keptLogin } from "./kept-login";

const form = document.getElementById("welcome") as HTMLFormElement;
const nameInput = document.getElementById("name") as HTMLInputElement;
const nameLabel = document.querySelector('label[for="name"]') as HTMLLabelElement;
const problemLine = document.getElementById("name-problem") as HTMLParagraphElement;
const tokenField = document.getElementById("token-field") as HTMLDivElement;
const tokenInput = document.getElementById("token") as HTMLInputElement;
const passwordField = document.getElementById("password-field") as HTMLDivElement;
const passwordInput = document.getElementById("password") as HTMLInputElement;
const passwordLabel = document.querySelector('label[for="password"]') as HTMLLabelElement;
const submitButton = document.getElementById("welcome-submit") as HTMLButtonElement;
const backButton = document.getElementById("welcome-back") as HTMLButtonElement;

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

/** What the form does besides joining: logging in from the chat, and showing the chat. */
export interface NameFormActions {
  join: Join;
  /** Logs in on the connection we have: resolves to undefined once in, or to why not. */
  logIn: (name: string, password: string) => Promise<string | undefined>;
  /** The chat shows (we are in, or back from logging in), or gives its place to the form. */
  showChat: (shown: boolean) => void;
}

/**
 * Says `text` under the form: a problem (a refusal, or something left out) in the error's red, or a
 * question asked before anything went wrong (logging in from the chat) in the ordinary colour.
 */
function say(text: string, kind: "problem" | "asking" = "problem"): void {
  problemLine.textContent = text;
  problemLine.classList.toggle("asking", kind === "asking");
}

/** The same name, whatever its case: a kept login's name as registered, and the one typed. */
const sameName = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

/** What the form says on a server for registered accounts only, as the terminal client does (client/terminal/joining.ts). */
const ACCOUNTS_ONLY = `This server is for registered accounts only: type your account's name and its password to log in. ${NO_ACCOUNT}`;

export class NameForm {
  /** Whether the server wants a token: asked as the page opens, before anyone types one. */
  readonly #tokenWanted = fetch("/auth").then(
    (answer) => answer.status === 401,
    () => false,
  );

  /** Logging in from the chat (not joining): the form is back over it, with its password field. */
  #loggingIn = false;
  /** The server said it is for registered accounts only (--guests no): a name and its password are wanted. */
  #accountsOnly = false;

  /** On a submission that passes the checks, `actions.join` is called; the chat shows once it let us in. */
  constructor(private readonly actions: NameFormActions) {
    nameInput.value = keptLogin.get()?.name ?? localStorage.getItem(NAME_KEY) ?? "";
    void this.#tokenWanted.then((wanted) => (tokenField.hidden = !wanted));
    // Another name is another question: the password asked for was the other name's.
    nameInput.addEventListener("input", () => {
      if (this.#loggingIn || this.#accountsOnly) return;
      passwordField.hidden = true;
      passwordInput.value = "";
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.#busy(() => (this.#loggingIn ? this.#logIn() : this.#submit()));
    });
    backButton.addEventListener("click", () => this.#closeLogin());
    form.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && this.#loggingIn) this.#closeLogin();
    });
    this.#busy(() => this.#joinAsKept());
  }

  /** One join or login at a time: a second Enter while the first is under way would race it. */
  #busy(work: () => Promise<void>): void {
    if (form.getAttribute("aria-busy") === "true") return;
    form.setAttribute("aria-busy", "true");
    void work().finally(() => form.removeAttribute("aria-busy"));
  }

  /**
   * A login kept from an earlier visit joins at once, as its account's name: whoever logged in here
   * comes back logged in. Not where the server wants its token, which the page never keeps.
   */
  async #joinAsKept(): Promise<void> {
    const kept = keptLogin.get();
    if (kept && !(await this.#tokenWanted)) await this.#join(kept.name, undefined, { session: kept.token });
  }

  async #submit(): Promise<void> {
    const name = normalizeName(nameInput.value);
    const problem = await this.#problem(name);
    say(problem?.text ?? "");
    if (problem) return problem.field.focus();
    localStorage.setItem(NAME_KEY, name);
    const token = (await this.#tokenWanted) ? tokenInput.value : undefined;
    await this.#join(name, token, this.#login(name));
  }

  /** Joins: the chat shows once the server has let us in; a name it refuses is asked for again here. */
  async #join(name: string, token: string | undefined, login: Login | undefined): Promise<void> {
    const refused = await this.actions.join(name === "" ? undefined : name, token, login);
    // Banned: no other name (nor forgetting the kept login) would do; the ban's words say until when.
    if (refused?.banned) {
      say(refused.reason);
      return nameInput.focus();
    }
    if (refused?.accountsOnly) this.#wantAccount();
    if (refused && login && "session" in login) return this.#keptLoginEnded(name, refused);
    if (refused?.registered) return this.#askPassword(name, refused, login);
    if (refused) {
      say(refused.reason);
      return nameInput.focus();
    }
    passwordInput.value = "";
    form.hidden = true;
    this.actions.showChat(true);
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
    say(
      wrong
        ? refused.reason
        : refused.accountsOnly
          ? ACCOUNTS_ONLY
          : `${name} is a registered name: type its password to log in, or choose another name.`,
    );
    passwordField.hidden = false;
    const field = name === "" ? nameInput : passwordInput;
    field.focus();
    field.select();
  }

  /** The server is for registered accounts only: from now on the form asks for an account's name and password. */
  #wantAccount(): void {
    this.#accountsOnly = true;
    nameLabel.textContent = "Your account's name";
    nameInput.placeholder = "The name the server's operator made your account with";
    passwordLabel.textContent = "Its password";
    passwordInput.placeholder = "";
    passwordField.hidden = false;
    submitButton.textContent = "Log in";
  }

  /** The login kept in this browser was refused (ended elsewhere, or its account deleted): forgotten, and the form asks. */
  #keptLoginEnded(name: string, refused: JoinRefusal): void {
    keptLogin.forget();
    if (refused.registered) {
      this.#askPassword(name, refused, undefined);
      say(`This browser's login to ${name} has ended: type its password to log in again, or choose another name.`);
      return;
    }
    say(
      `This browser's login to ${name} has ended, and the name is no longer registered: join to take it, or choose another.`,
    );
    nameInput.focus();
  }

  /** From the chat: the form comes back over it to log in to `name` (or a name to type) with its password. */
  openLogin(name: string | undefined): void {
    this.#loggingIn = true;
    this.actions.showChat(false);
    form.hidden = false;
    nameInput.value = name ?? "";
    passwordInput.value = "";
    passwordField.hidden = false;
    backButton.hidden = false;
    submitButton.textContent = "Log in";
    say("Log in to your registered name with its password.", "asking");
    (name ? passwordInput : nameInput).focus();
  }

  /** Logs in from the chat with the name and password typed; the chat comes back once in. */
  async #logIn(): Promise<void> {
    const name = normalizeName(nameInput.value);
    const wrongName = name === "" ? "Type your registered name." : nameProblem(name);
    if (wrongName) {
      say(wrongName);
      return nameInput.focus();
    }
    if (passwordInput.value === "") {
      say(`Type the password of ${name}.`);
      return passwordInput.focus();
    }
    const failed = await this.actions.logIn(name, passwordInput.value);
    if (failed === undefined) return this.#closeLogin();
    say(failed);
    passwordInput.focus();
    passwordInput.select();
  }

  /** Back to the chat from logging in, logged in or not. */
  #closeLogin(): void {
    this.#loggingIn = false;
    passwordInput.value = "";
    passwordField.hidden = true;
    backButton.hidden = true;
    submitButton.textContent = this.#accountsOnly ? "Log in" : "Join the chat";
    say("");
    form.hidden = true;
    this.actions.showChat(true);
  }

  /** What keeps the form from joining, and the field to put right; undefined if nothing does. */
  async #problem(name: string): Promise<{ text: string; field: HTMLInputElement } | undefined> {
    const wrongName = name === "" ? undefined : nameProblem(name); // none: going by the address
    if (wrongName) return { text: wrongName, field: nameInput };
    const missing = this.#accountMissing(name);
    if (missing) return missing;
    const wrongToken = await this.#tokenProblem();
    return wrongToken === undefined ? undefined : { text: wrongToken, field: tokenInput };
  }

  /** On a server for registered accounts only, the account's name or password left out, and its field; undefined if neither. */
  #accountMissing(name: string): { text: string; field: HTMLInputElement } | undefined {
    if (!this.#accountsOnly) return undefined;
    if (name === "")
      return { text: "This server is for registered accounts only: type your account's name.", field: nameInput };
    return passwordInput.value === "" ? { text: `Type the password of ${name}.`, field: passwordInput } : undefined;
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
