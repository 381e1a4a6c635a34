/** Asking at a terminal: login's password is read in raw mode and never echoed. */
import * as assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { describe, it } from "node:test";
import { ask, isInteractive, type TerminalInput } from "../../src/cli/prompt.js";

function terminal(): { stdin: TerminalInput & PassThrough; modes: boolean[] } {
  const modes: boolean[] = [];
  const stdin = Object.assign(new PassThrough(), { isTTY: true, setRawMode: (raw: boolean) => modes.push(raw) });
  return { stdin, modes };
}

function capture(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on("data", (c: Buffer) => chunks.push(c));
  return { stream, text: () => Buffer.concat(chunks).toString("utf8") };
}

describe("ask", () => {
  it("a secret: raw mode while typing, nothing echoed, backspace edits, raw mode off after", async () => {
    const { stdin, modes } = terminal();
    const err = capture();
    const answer = ask(stdin, err.stream, "Password: ", { secret: true });
    stdin.write("hunter3");
    stdin.write("\u007f2\r");
    assert.equal(await answer, "hunter2");
    assert.deepEqual(modes, [true, false]);
    assert.equal(err.text(), "Password: \n");
  });

  it("a line: as typed, up to the newline", async () => {
    const { stdin, modes } = terminal();
    const err = capture();
    const answer = ask(stdin, err.stream, "Username: ");
    stdin.write("me\n");
    assert.equal(await answer, "me");
    assert.deepEqual(modes, []);
  });

  it("Ctrl-C gives up with an error, and the terminal is restored", async () => {
    const { stdin, modes } = terminal();
    const answer = ask(stdin, capture().stream, "Password: ", { secret: true });
    stdin.write("abc\u0003");
    await assert.rejects(answer, /login cancelled/);
    assert.deepEqual(modes, [true, false]);
  });

  it("only a terminal is interactive", () => {
    assert.equal(isInteractive(new PassThrough()), false);
    assert.equal(isInteractive(terminal().stdin), true);
  });
});
