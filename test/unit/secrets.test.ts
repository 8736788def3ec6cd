/** Passwords in typed lines (client/terminal/secrets.ts): shown as dots, asked for when left out. */
import { expect, test } from "bun:test";
import { masked, secretQuestions, withSecrets } from "../../client/terminal/secrets";

test("a line's secret part shows as dots, one for each UTF-16 unit; other lines as they are", () => {
  expect(masked("/login alice hunter22")).toBe("/login alice ••••••••");
  expect(masked("/LOGIN  alice  pass word")).toBe("/LOGIN  alice  •••••••••");
  expect(masked("/register s3cret😀")).toBe("/register ••••••••");
  // Where one password ends and the next begins is not shown either.
  expect(masked("/password old new")).toBe("/password •••••••");
  expect(masked("/login ali")).toBe("/login ali"); // nothing secret typed yet
  expect(masked("/nick alice")).toBe("/nick alice");
  expect(masked("//login alice pw")).toBe("//login alice pw");
  expect(masked("hello")).toBe("hello");
});

test("a line that leaves its secrets out asks for each; a new password twice", () => {
  expect(secretQuestions("/login alice")).toEqual([{ title: "A password for /login alice", confirm: false }]);
  expect(secretQuestions("/register")).toEqual([{ title: "A password for /register", confirm: true }]);
  expect(secretQuestions("/password")).toEqual([
    { title: "Your password for /password", confirm: false },
    { title: "A new password for /password", confirm: true },
  ]);
  expect(secretQuestions("/Session")).toEqual([{ title: "A session token for /session", confirm: false }]);
  expect(secretQuestions("/login")).toBeUndefined(); // the name is missing too: parseTyped says so
  expect(secretQuestions("/login alice pw")).toBeUndefined();
  expect(secretQuestions("/nick alice")).toBeUndefined();
});

test("the answers go into the command, each in its field", () => {
  expect(withSecrets("/login alice", ["pass word"])).toEqual({ type: "login", name: "alice", password: "pass word" });
  expect(withSecrets("/register", ["hunter22"])).toEqual({ type: "register", password: "hunter22" });
  expect(withSecrets("/password", ["old one", "new one"])).toEqual({
    type: "password",
    old: "old one",
    new: "new one",
  });
});
