/** Up/Down recall (client/terminal/recall.ts), as a shell does it. */
import { expect, test } from "bun:test";
import { Recall } from "../../client/terminal/recall";

test("Up goes back from the newest and stops at the oldest; Down comes back to the half-typed line", () => {
  const recall = new Recall();
  for (const line of ["one", "two", "three"]) recall.add(line);
  expect(recall.older("half")).toBe("three");
  expect(recall.older("three")).toBe("two");
  expect(recall.older("two")).toBe("one");
  expect(recall.older("one")).toBeUndefined(); // stays on the oldest, not a blank line
  expect(recall.newer()).toBe("two");
  expect(recall.newer()).toBe("three");
  expect(recall.newer()).toBe("half");
  expect(recall.newer()).toBeUndefined();
});

test("after the line is changed by hand (Ctrl-U, typing), Up starts from the newest again", () => {
  const recall = new Recall();
  for (const line of ["one", "two", "three"]) recall.add(line);
  recall.older("");
  recall.older("three");
  recall.edited();
  expect(recall.older("")).toBe("three");
});

test("the same line sent twice in a row is recalled once", () => {
  const recall = new Recall();
  for (const line of ["a", "b", "b"]) recall.add(line);
  expect([recall.older(""), recall.older("b"), recall.older("a")]).toEqual(["b", "a", undefined]);
});
