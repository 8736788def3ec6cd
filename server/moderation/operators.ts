/**
 * Making an operator, or unmaking one, from the operators' command line (`bun server.ts accounts op
 * NAME`, `deop NAME`, server/accounts/cli.ts): one row of the shared `operators` table, which every
 * running instance hears of (roles.ts). Only a registered name may be made one: a role belongs to
 * an account, and one made before the account was registered is an earlier account's, void.
 */
import { UsageError } from "../../common/cli";
import { nameSkeleton } from "../../common/lookalikes";
import { nameProblem, normalizeName } from "../../common/text";
import type { SharedState } from "../state/state";
import { Roles } from "./roles";

/** Makes `wanted` an operator (`op`) or no longer one (`deop`); returns the line to print. */
export async function setOperator(
  state: SharedState,
  wanted: string,
  op: boolean,
  /** When the name's account was registered (ISO 8601); undefined if it is not. */
  registered: string | undefined,
): Promise<string> {
  const name = normalizeName(wanted);
  const problem = nameProblem(name);
  if (problem) throw new UsageError(problem);
  const roles = new Roles(state, [], () => registered);
  const { operators } = roles;
  const key = nameSkeleton(name);
  const known = operators.get(key);
  if (!op) {
    if (!known)
      return `${name} is not an operator made here (one named with --ops stays one until the server runs without it).`;
    await operators.delete(key);
    return `${known.name} is no longer an operator.`;
  }
  // A role belongs to an account: made for a name nobody has registered, it would go to whoever does first.
  if (!registered)
    throw new UsageError(
      `${name} is not registered: an operator is an account. Register it first, or name it with --ops.`,
    );
  if (roles.holds(known, key)) return `${known.name} is an operator already.`;
  await operators.put(key, roles.appointment(name, "the command line"));
  return `${name} is an operator now.`;
}
