/** The codes table (common/codes.ts) is the one clients branch on: the README lists every code of it. */
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { ERROR_CODES } from "../../common/codes";

test("the README's table of codes has every code once, in the table's order", () => {
  const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
  const listed = [...readme.matchAll(/^\| `([a-z-]+)` \| /gm)].map((match) => match[1]);
  const codes = Object.keys(ERROR_CODES);
  expect(listed.filter((code) => codes.includes(code as string))).toEqual(codes);
  for (const code of codes) expect(listed.filter((c) => c === code)).toHaveLength(1);
});
