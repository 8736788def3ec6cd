/**
 * Making an operator, or unmaking one, from the operators' command line (`bun server.ts accounts op
 * NAME`, `deop NAME`, server/accounts/cli.ts): one row of the shared `operators` table, which every
 * running instance hears of (roles.ts). A name not registered yet may be made an operator: it is
 * one once its owner registers it and logs in, as with --ops.
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
  registered: boolean,
): Promise<string> {
  const name = normalizeName(wanted);
  const problem = nameProblem(name);
  if (problem) throw new UsageError(problem);
  const { operators } = new Roles(state, []);
  const key = nameSkeleton(name);
  const known = operators.get(key);
  if (!op) {
    if (!known)
      return `${name} is not an operator made here (one named with --ops stays one until the server runs without it).`;
    await operators.delete(key);
    return `${known.name} is no longer an operator.`;
  }
  if (known) return `${known.name} is an operator already.`;
  await operators.put(key, { name, by: "the command line", at: new Date().toISOString() });
  return registered
    ? `${name} is an operator now.`
    : `${name} is an operator now, once its owner registers it (it is not registered yet).`;
}
