/**
 * Lists of people, one entry per person: someone logged in to an account on several connections
 * (a phone and a laptop) is listed once, with how many connections, in `/who` and `joined`.
 * Guests are one entry per connection, as before: each of them has a name of their own.
 */
import type { User } from "../../common/events";

/**
 * `users` with each registered name once, at the place of its last connection listed (in
 * `joined`, the newcomer is last: it stays last), with `connections` when more than one.
 */
export function onePerPerson(users: User[]): User[] {
  const counts = new Map<string, number>();
  for (const user of users) if (user.registered && user.name) counts.set(user.name, (counts.get(user.name) ?? 0) + 1);
  if (counts.size === 0 || counts.size === users.filter((user) => user.registered).length) return users;
  const listed: User[] = [];
  const seen = new Map<string, number>();
  for (const user of users) {
    const count = user.registered && user.name ? counts.get(user.name)! : 1;
    if (count === 1) {
      listed.push(user);
      continue;
    }
    const met = (seen.get(user.name!) ?? 0) + 1;
    seen.set(user.name!, met);
    if (met === count) listed.push({ ...user, connections: count });
  }
  return listed;
}
