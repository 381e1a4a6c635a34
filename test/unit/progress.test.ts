/** Progress display modes: bars on a terminal, plain lines, JSON lines, nothing. */
import * as assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { describe, it } from "node:test";
import { chooseProgressMode, createProgress } from "../../src/cli/progress.js";

function capture(tty = false): { stream: PassThrough & { isTTY?: boolean; columns?: number }; text: () => string } {
  const stream: PassThrough & { isTTY?: boolean; columns?: number; cursorTo?: unknown; clearLine?: unknown; moveCursor?: unknown } = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on("data", (c: Buffer) => chunks.push(c));
  if (tty) {
    stream.isTTY = true;
    stream.columns = 100;
    // What cli-progress calls on a terminal stream.
    stream.cursorTo = (_x: number, _y?: number, cb?: () => void) => (cb?.(), true);
    stream.clearLine = (_dir: number, cb?: () => void) => (cb?.(), true);
    stream.moveCursor = (_dx: number, _dy: number, cb?: () => void) => (cb?.(), true);
  }
  return { stream, text: () => Buffer.concat(chunks).toString("utf8") };
}

describe("chooseProgressMode", () => {
  it("bars on a terminal, lines otherwise, nothing when quiet, an explicit mode wins", () => {
    assert.equal(chooseProgressMode(undefined, Object.assign(new PassThrough(), { isTTY: true }), false), "tty");
    assert.equal(chooseProgressMode(undefined, new PassThrough(), false), "plain");
    assert.equal(chooseProgressMode("json", new PassThrough(), false), "json");
    assert.equal(chooseProgressMode("json", new PassThrough(), true), "none");
  });
});

describe("createProgress", () => {
  it("plain: one line when an item starts and one when it ends, none per chunk", () => {
    const out = capture();
    const p = createProgress("plain", out.stream);
    p.start("a", "layer-a", 2_000_000);
    for (let i = 1; i <= 100; i++) p.update("a", i * 20_000);
    p.done("a", "copied");
    p.stop();
    const lines = out.text().trim().split("\n");
    assert.equal(lines.length, 2);
    assert.match(lines[0] ?? "", /^start layer-a \(2\.00 MB\)$/);
    assert.match(lines[1] ?? "", /^copied layer-a \(2\.00 MB, \d+ ms\)$/);
  });

  it("json: one JSON object per line with the outcome and byte counts", () => {
    const out = capture();
    const p = createProgress("json", out.stream);
    p.start("b", "layer-b", 10);
    p.update("b", 10);
    p.done("b", "mounted");
    const events = out.text().trim().split("\n").map((l) => JSON.parse(l) as { event: string; id: string; bytes?: number; total: number });
    assert.deepEqual(events.map((e) => e.event), ["start", "mounted"]);
    assert.equal(events[1]?.bytes, 10);
    assert.equal(events[1]?.total, 10);
  });

  it("tty: draws a bar per item with its size", async () => {
    const out = capture(true);
    const p = createProgress("tty", out.stream);
    p.start("total", "total", 3_000);
    p.start("c", "layer-c", 3_000);
    p.update("c", 1_500);
    p.update("total", 1_500);
    await new Promise((resolve) => setTimeout(resolve, 150));
    p.done("c");
    p.done("total");
    p.stop();
    const text = out.text();
    assert.match(text, /layer-c \[[^\]]+\] +100% 3\.00 kB\/3\.00 kB/);
    assert.match(text, /total \[/);
  });

  it("none: writes nothing", () => {
    const out = capture();
    const p = createProgress("none", out.stream);
    p.start("d", "x", 1);
    p.done("d");
    p.stop();
    assert.equal(out.text(), "");
  });
});
