/** Text as the chat handles it (common/text.ts): one class of control characters, names, wording. */
import { describe, expect, test } from "bun:test";
import { nameSkeleton } from "../../common/lookalikes";
import {
  cleanText,
  describeUser,
  escapeControls,
  forLog,
  forTerminal,
  messagesWere,
  nameHash,
  nameProblem,
  normalizeName,
  oneLine,
  plural,
  screenSafe,
} from "../../common/text";

describe("cleanText", () => {
  test.each([
    ["plain text", "hello", "hello"],
    ["a screen clear, whole", "\x1b[2Jhi", "hi"],
    ["an OSC title, to its BEL", "\x1b]0;pwned\x07hi", "hi"],
    ["an 8-bit CSI", "\x9b31mred", "red"],
    ["CR LF and lone CR", "a\r\nb\rc", "a\nb\nc"],
    ["a tab", "a\tb", "a b"],
    ["bidi overrides", "abc\u202edef\u2066", "abcdef"],
    ["a newline, kept", "two\nlines", "two\nlines"],
    ["other C0 and C1 controls", "a\x00b\x07c\x8fd", "abcd"],
    ["every kind of line break, as one newline", "a\r\nb\rc\x85d\u2028e\u2029f", "a\nb\nc\nd\ne\nf"],
    ["a lone surrogate, made well-formed", "A\ud800B", "A\uFFFDB"],
  ])("%s", (_what, given, kept) => {
    expect(cleanText(given)).toBe(kept);
  });
});

test("escapeControls shows every control character, newlines too", () => {
  expect(escapeControls("a\x1bb\nc\u202e")).toBe("a\\u001bb\\u000ac\\u202e");
});

test("forTerminal shows controls as U+FFFD but keeps newlines and tabs", () => {
  expect(forTerminal("a\x1b[2J\tb\nc\u202e")).toBe("a\uFFFD[2J\tb\nc\uFFFD");
  expect(forTerminal("plain")).toBe("plain");
});

test("forLog keeps a log line one line", () => {
  expect(forLog("a\nb\x1bc\u202ed")).toBe("a\\nb\\x1bc\\x202ed");
});

describe("names", () => {
  test("are compared in NFC, trimmed", () => {
    expect(normalizeName("  Jose\u0301 ")).toBe("José");
  });

  test.each([
    ["alice", undefined],
    ["Zoë_2.0-b", undefined],
    ["", "A name cannot be empty."],
    ["a".repeat(33), `A name can be at most 32 characters; '${"a".repeat(33)}' has 33.`],
    ["two words", "A name can only have letters, digits, '_', '-' and '.'; 'two words' has other characters."],
  ])("%p", (name, problem) => {
    expect(nameProblem(name)).toBe(problem);
  });

  test("combining marks are bounded: three a letter, and a name's whole length, refused unread past it", () => {
    expect(nameProblem("ñ̃̃o")).toBeUndefined(); // n with three marks
    expect(nameProblem(`n${"\u0303".repeat(4)}`)).toContain("has other characters");
    const huge = `b${"\u0336".repeat(120_000)}`;
    expect(nameProblem(huge)).toBe("A name can be at most 32 characters; that one is far longer.");
    expect(nameProblem(huge, "room")).toBe("A room can be at most 32 characters; that one is far longer.");
  });

  test("a small l among capitals, which reads as a capital I, is refused; other mixes of case are not", () => {
    for (const name of ["ALlCE", "ADMlN", "TlM", "MlKE"])
      expect(nameProblem(name)).toBe(
        `A small l among capitals reads as a capital I: write the name '${name}' all in capitals or all in small letters.`,
      );
    for (const name of ["ALICE", "alice", "Al", "Bill", "McLaren", "ALL", "Zoë"])
      expect(nameProblem(name)).toBeUndefined();
  });

  test("a room is worded as a room", () => {
    expect(nameProblem("", "room")).toBe("A room cannot be empty.");
  });

  test("the colour hash is the same for every case of a name, and differs between names", () => {
    expect(nameHash("Alice")).toBe(nameHash("alice"));
    expect(nameHash("alice")).not.toBe(nameHash("bob"));
  });
});

test("wording", () => {
  expect(describeUser({ name: "alice", address: "127.0.0.1:1" })).toBe("alice (127.0.0.1:1)");
  expect(describeUser({ name: null, address: "127.0.0.1:1" })).toBe("127.0.0.1:1");
  // A message said through the HTTP API is marked as a bot's.
  expect(describeUser({ name: "ci", address: "127.0.0.1:5555", bot: true })).toBe("ci [bot] (127.0.0.1:5555)");
  expect([plural(1, "other"), plural(2, "other")]).toEqual(["1 other", "2 others"]);
  expect([messagesWere(1), messagesWere(3)]).toEqual(["1 message was", "3 messages were"]);
});

describe("what a client shows of a server's strings", () => {
  test("every string of an event is made safe; only text, messages and help keep their lines", () => {
    const hostile = {
      type: "help",
      commands: [{ usage: "/x\x1b]0;owned\x07", help: "clears\x1b[2J the screen\u2028and more" }],
    };
    expect(screenSafe(hostile)).toEqual({
      type: "help",
      commands: [{ usage: "/x\uFFFD]0;owned\uFFFD", help: "clears\uFFFD[2J the screen\nand more" }],
    });
    const members = {
      type: "members",
      room: "r\u2028oom",
      members: [{ name: "eve\n12:00  bob", address: "1.2.3.4:5" }],
    };
    expect(screenSafe(members)).toEqual({
      type: "members",
      room: "r\uFFFDoom",
      members: [{ name: "eve\uFFFD12:00  bob", address: "1.2.3.4:5" }],
    });
    expect(oneLine("bye\x1b[2J")).toBe("bye\uFFFD[2J");
  });
});

describe("look-alike and invisible names", () => {
  test.each([
    [
      "Cyrillic а among Latin letters",
      "аlice",
      "A name cannot mix scripts (Cyrillic and Latin in 'аlice'): letters from two scripts let one name pass for another.",
    ],
    ["a Hangul filler, which shows as nothing", "\u3164", "A name cannot have characters that show as nothing."],
    ["a zero-width space", "bob\u200b", "A name cannot have characters that show as nothing."],
  ])("refused: %s", (_what, given, problem) => {
    expect(nameProblem(normalizeName(given))).toBe(problem);
  });

  test.each([
    ["Hindi, with its combining marks", "अनिल"],
    ["Japanese, three scripts in one", "山田たろう"],
    ["Korean", "김철수"],
    ["Greek", "Νίκος"],
    ["accents", "José"],
  ])("allowed: %s", (_what, given) => {
    expect(nameProblem(normalizeName(given))).toBeUndefined();
  });

  test("fullwidth and mathematical letters are the plain letters they stand for", () => {
    expect(normalizeName("ａｌｉｃｅ")).toBe("alice");
    expect(normalizeName("𝐚𝐥𝐢𝐜𝐞")).toBe("alice");
  });

  test("names that pass for each other have one skeleton; names that do not, differ", () => {
    const alice = nameSkeleton("alice");
    for (const lookalike of ["Alice", "аlice", "alıce", "AIice", "a1ice", "ALICE", "ａｌｉｃｅ"])
      expect(nameSkeleton(lookalike)).toBe(alice);
    expect(nameSkeleton("реа")).toBe(nameSkeleton("pea"));
    for (const other of ["alicia", "allce", "José"]) expect(nameSkeleton(other)).not.toBe(alice);
    expect(nameSkeleton("José")).not.toBe(nameSkeleton("Jose"));
  });

  test("a mark that leaves its letter as it was does not make another name (UTS #39 §5.4)", () => {
    const alice = nameSkeleton("alice");
    const lookalikes = {
      "a dot above an i, which has one": "ali\u0307ce",
      "a dot above a dotless ı": "al\u0131\u0307ce",
      "a solidus overlay": "a\u0338lice",
      "a long stroke overlay": "a\u0336lice",
      "a low line": "alice\u0332",
      "a double low line": "ali\u0333ce",
      "an enclosing circle": "alic\u20DDe",
      "in capitals, a dot above the I": "ALI\u0307CE",
    };
    for (const [what, name] of Object.entries(lookalikes)) expect([what, nameSkeleton(name)]).toEqual([what, alice]);
    expect(nameSkeleton("Jose\u0301\u0301")).toBe(nameSkeleton("José"));
  });

  test("the whole of Unicode's confusables table: Cyrillic, Greek and Armenian look-alikes", () => {
    expect(nameSkeleton("ѕсоре")).toBe(nameSkeleton("scope"));
    expect(nameSkeleton("ԁаѕһ")).toBe(nameSkeleton("dash"));
    expect(nameSkeleton("ναι")).toBe(nameSkeleton("vai"));
    expect(nameSkeleton("ΑΒΕ")).toBe(nameSkeleton("abe"));
    expect(nameSkeleton("հօս")).toBe(nameSkeleton("hou"));
    expect(nameSkeleton("ոսց")).toBe(nameSkeleton("nug"));
    // m and rn, 0 and o, 1 and l: the table's own look-alikes within Latin.
    expect(nameSkeleton("modern")).toBe(nameSkeleton("rnodern"));
    expect(nameSkeleton("b0b1")).toBe(nameSkeleton("bobl"));
  });

  test("Cherokee capitals and small capitals pass for the Latin letters they look like", () => {
    // Compared without case, Cherokee's small letters map to small capitals in Unicode's table.
    expect(nameSkeleton("ᏴᎬᎢ")).toBe(nameSkeleton("bet"));
    expect(nameSkeleton("ᎻᎬᎡᎪ")).toBe(nameSkeleton("HERA"));
    expect(nameSkeleton("ᏦᎪᎢᎬ")).toBe(nameSkeleton("kate"));
    expect(nameSkeleton("ᴀʟᴇx")).toBe(nameSkeleton("alex"));
  });

  test("a letter with a stroke is that letter, whether typed as one or with a combining overlay", () => {
    expect(nameSkeleton("bjo\u0338rn")).toBe(nameSkeleton("bjørn"));
    expect(nameSkeleton("l\u0338ukasz")).toBe(nameSkeleton("łukasz"));
    expect(nameSkeleton("al\u0335ice")).toBe(nameSkeleton("aƚice"));
  });

  test("names that must stay apart still differ", () => {
    const apart = [
      ["José", "Jose"],
      ["Müller", "Muller"],
      ["bjørn", "bjorn"],
      ["łukasz", "lukasz"],
      ["anil", "अनिल"],
      ["bob", "bop"],
      ["alice", "alicia"],
      ["जय", "जया"],
    ];
    for (const [one, other] of apart) expect([one, nameSkeleton(one!)]).not.toEqual([one, nameSkeleton(other!)]);
  });
});

describe("format characters that only hide", () => {
  test.each([
    ["zero-width space", "a\u200bb", "ab"],
    ["soft hyphen", "soft\u00adhyphen", "softhyphen"],
    ["invisible times", "x\u2062y", "xy"],
    ["byte-order mark", "\ufeffbom", "bom"],
    ["right-to-left mark", "rlm\u200f", "rlm"],
    ["tag characters outside a flag", "hid\u{E0041}\u{E0042}den", "hidden"],
    ["a joiner between letters", "a\u200db", "ab"],
  ])("removed: %s", (_what, given, kept) => {
    expect(cleanText(given)).toBe(kept);
  });

  test.each([
    ["a joiner inside an emoji sequence", "👩\u200d💻"],
    ["a non-joiner inside a Persian word", "می\u200cخواهم"],
    ["the flag of Scotland (tags)", "🏴\u{E0067}\u{E0062}\u{E0073}\u{E0063}\u{E0074}\u{E007F}"],
  ])("kept: %s", (_what, given) => {
    expect(cleanText(given)).toBe(given);
  });
});
