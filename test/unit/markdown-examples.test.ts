/** The Markdown example extractor the guide and README tests share (test/harness/markdown-examples.ts). */
import * as assert from "node:assert/strict";
import { test } from "node:test";
import { codeBlocks, expectedLines, missingLines, substitute } from "../harness/markdown-examples.js";

test("codeBlocks: every fenced block with its language, first line and heading; indented fences and ~~~ too", () => {
  const text = [
    "# Title",
    "```sh",
    "echo one",
    "```",
    "## Part two",
    "text",
    "  ```ts",
    "  const x = 1;",
    "    nested();",
    "  ```",
    "~~~python",
    "print('```')",
    "~~~",
  ].join("\n");
  const blocks = codeBlocks(text);
  assert.deepEqual(
    blocks.map((b) => [b.lang, b.line, b.heading, b.code]),
    [
      ["sh", 2, "# Title", "echo one\n"],
      ["ts", 7, "## Part two", "const x = 1;\n  nested();\n"],
      ["python", 11, "## Part two", "print('```')\n"],
    ],
  );
  assert.throws(() => codeBlocks("```sh\nnever closed\n"), /unclosed code fence opened at line 1/);
});

test("substitute: longest placeholder first, every occurrence, nothing else touched", () => {
  const out = substitute("https://quay.example.com quay.example.com/x quay-example-com", {
    "quay.example.com": "127.0.0.1:9",
    "https://quay.example.com": "http://127.0.0.1:9",
  });
  assert.equal(out, "http://127.0.0.1:9 127.0.0.1:9/x quay-example-com");
});

test("expected lines: `# prints:` anywhere on a line; `...` is any text; order matters; a line is matched whole", () => {
  const code = "a   # prints: one\n# prints: t...o\nb # prints: sha256:...\n";
  assert.deepEqual(expectedLines(code), ["one", "t...o", "sha256:..."]);
  assert.deepEqual(missingLines("one\ntwo\nsha256:abc\n", expectedLines(code)), []);
  assert.deepEqual(missingLines("two\none\nsha256:abc\n", expectedLines(code)), ["t...o"]);
  assert.deepEqual(missingLines("one!\ntwo\n", ["one"]), ["one"]);
  assert.deepEqual(missingLines("a.c\n", ["abc"]), ["abc"]);
  assert.deepEqual(missingLines("(x)\n", ["(x)"]), []);
});
