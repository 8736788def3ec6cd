/**
 * The page's login kept in this browser: the registered name and the session token the server
 * gave on logging in or registering (never the password), for this server's origin, so that the
 * next visit logs in without asking. Logging out forgets it, and so does the server's refusal of it.
 */

/** One server's kept login. */
export interface KeptLogin {
  name: string;
  token: string;
}

const key = () => `chat.login@${location.origin}`;

export const keptLogin = {
  get(): KeptLogin | undefined {
    try {
      const { name, token } = JSON.parse(localStorage.getItem(key()) ?? "null") ?? {};
      return typeof name === "string" && typeof token === "string" ? { name, token } : undefined;
    } catch {
      return undefined; // something else's, or broken: as good as none
    }
  },

  keep(login: KeptLogin): void {
    localStorage.setItem(key(), JSON.stringify({ name: login.name, token: login.token }));
  },

  forget(): void {
    localStorage.removeItem(key());
  },
};
