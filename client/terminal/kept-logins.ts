/**
 * The logins the terminal client keeps between runs: for each server, the registered name it
 * logged in as and the session token the server gave (the `account` event), so that the next
 * start logs in without asking for the password. They live in one small JSON file in the user's
 * config directory ($XDG_CONFIG_HOME, or ~/.config), readable by the user alone (0600, in a
 * directory of 0700): a token is as good as the password until the server revokes it.
 */
import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, isAbsolute, join } from "node:path";

/** The folder under the config directory, named after the program's package. */
const APP_FOLDER = "bun-broadcast-chat";
const FILE_NAME = "sessions.json";

/** One server's kept login. */
export interface KeptLogin {
  /** The account's name, as registered. */
  name: string;
  token: string;
}

/** Where the logins are kept: $XDG_CONFIG_HOME (when absolute, as the XDG spec says) or ~/.config. */
export function keptLoginsFile(env: Record<string, string | undefined> = process.env): string {
  const configured = env.XDG_CONFIG_HOME;
  const config = configured && isAbsolute(configured) ? configured : join(env.HOME || homedir(), ".config");
  return join(config, APP_FOLDER, FILE_NAME);
}

/**
 * A server as a key of the file: scheme, host, port and path, without the query (a name or a
 * resume token there is not the server) or a trailing slash, so `ws://h:2000` and `ws://h:2000/`
 * are one server.
 */
export function serverKey(url: string): string {
  const { protocol, host, pathname } = new URL(url);
  return `${protocol}//${host}${pathname.replace(/\/+$/, "")}`;
}

export class KeptLogins {
  constructor(readonly file: string = keptLoginsFile()) {}

  /** The login kept for the server at `url`, if any. */
  get(url: string): KeptLogin | undefined {
    return this.#read()[serverKey(url)];
  }

  /** Keeps `login` for the server at `url`; the words of what went wrong, if it could not. */
  keep(url: string, login: KeptLogin): string | undefined {
    return this.#write({ ...this.#read(), [serverKey(url)]: { name: login.name, token: login.token } });
  }

  /** Forgets the server's login, if one is kept; the words of what went wrong, if it could not. */
  forget(url: string): string | undefined {
    const logins = this.#read();
    const key = serverKey(url);
    if (!(key in logins)) return undefined;
    delete logins[key];
    return this.#write(logins);
  }

  /** Every login in the file; a missing or unreadable file, or a broken entry, counts as none. */
  #read(): Record<string, KeptLogin> {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(this.file, "utf8"));
    } catch {
      return {};
    }
    const logins: Record<string, KeptLogin> = {};
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return logins;
    for (const [key, value] of Object.entries(parsed)) {
      const { name, token } = (value ?? {}) as Partial<KeptLogin>;
      if (typeof name === "string" && typeof token === "string") logins[key] = { name, token };
    }
    return logins;
  }

  /**
   * Writes the whole file anew: to a file of its own, made 0600 from the start, then renamed over
   * the old one, so that a reader never sees half a file and the token is never readable by others.
   */
  #write(logins: Record<string, KeptLogin>): string | undefined {
    const folder = dirname(this.file);
    const temporary = `${this.file}.${process.pid}.tmp`;
    try {
      mkdirSync(folder, { recursive: true, mode: 0o700 });
      chmodSync(folder, 0o700); // made before, by someone else, with a looser mode
      writeFileSync(temporary, `${JSON.stringify(logins, null, 2)}\n`, { mode: 0o600 });
      renameSync(temporary, this.file);
      return undefined;
    } catch (error) {
      removeQuietly(temporary);
      return `Could not write ${this.file}: ${(error as { code?: string }).code ?? String(error)}.`;
    }
  }
}

/** Removes a file left half-written, if there is one to remove. */
function removeQuietly(path: string): void {
  try {
    rmSync(path, { force: true });
  } catch {
    // Its folder could not be made: there is no file.
  }
}
