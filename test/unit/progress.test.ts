/** Progress display modes: bars on a terminal, plain lines, JSON lines, nothing. */
import * as assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { describe, it } from "node:test";
import { chooseProgressMode, copyProgress, createProgress, formatDuration, mirrorProgress } from "../../src/cli/progress.js";
import type { CopyEvent } from "../../src/index.js";

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
    assert.match(text, /layer-c +\[[^\]]+\] +100% 3\.00 kB\/3\.00 kB/);
    assert.match(text, /total +\[/);
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

describe("copyProgress", () => {
  const blob = (n: number, size: number) => ({ mediaType: "application/octet-stream", digest: `sha256:${String(n).repeat(64).slice(0, 64)}`, size });
  const run = (mode: "plain" | "json", events: CopyEvent[]): string[] => {
    const out = capture();
    const handle = copyProgress(createProgress(mode, out.stream));
    for (const event of events) handle(event);
    return out.text().trim().split("\n");
  };
  // The bytes reach the total before the last blob is reported done: the total must still come last, once.
  const a = blob(1, 100);
  const b = blob(2, 50);
  const c = blob(3, 0);
  const events: CopyEvent[] = [
    { type: "plan", blobs: [a, b, c], manifests: 1 },
    { type: "blob-start", descriptor: a },
    { type: "blob-start", descriptor: b },
    { type: "blob-start", descriptor: c },
    { type: "blob-progress", descriptor: b, bytes: 50 },
    { type: "blob-progress", descriptor: a, bytes: 100 },
    { type: "blob-done", descriptor: b, outcome: "copied" },
    { type: "blob-done", descriptor: c, outcome: "skipped" },
    { type: "blob-done", descriptor: a, outcome: "copied" },
    { type: "manifest-done", descriptor: blob(4, 10), outcome: "copied" },
  ];

  it("json: the total's done once, last, after every blob's; labels unpadded", () => {
    const lines = run("json", events).map((l) => JSON.parse(l) as { event: string; id: string; label: string; bytes?: number });
    const totals = lines.filter((l) => l.id === "total");
    assert.deepEqual(totals.map((l) => l.event), ["start", "done"]);
    assert.equal(lines[lines.length - 1]?.id, "total");
    assert.equal(lines[lines.length - 1]?.bytes, 150);
    for (const line of lines) assert.equal(line.label, line.label.trim());
  });

  it("plain: the same order", () => {
    const lines = run("plain", events);
    assert.equal(lines.filter((l) => / total /.test(` ${l} `)).length, 2);
    assert.match(lines[lines.length - 1] ?? "", /^done total \(150 B, \d+ ms\)$/);
  });

  it("an image with no blobs to move still ends its total", () => {
    const lines = run("json", [{ type: "plan", blobs: [], manifests: 1 }]).map((l) => JSON.parse(l) as { event: string });
    assert.deepEqual(lines.map((l) => l.event), ["start", "done"]);
  });
});

describe("bars", () => {
  it("fit the terminal's width and show speed and time left", async () => {
    for (const columns of [60, 100, 160]) {
      const out = capture(true);
      out.stream.columns = columns;
      const p = createProgress("tty", out.stream);
      p.start("x", "layer-x", 10_000_000);
      await new Promise((resolve) => setTimeout(resolve, 600));
      p.update("x", 1_000_000);
      await new Promise((resolve) => setTimeout(resolve, 150));
      p.stop();
      // What the terminal shows: the text between cursor moves, escape codes taken out.
      const drawn = out.text().split(/\x1B\[\d*G|[\r\n]/).map((l) => l.replace(/\x1B\[[0-9;?]*[A-Za-z]/g, "")).filter((l) => l.includes("layer-x"));
      assert.ok(drawn.length > 0);
      for (const line of drawn) assert.ok(line.length <= columns, `${line.length} > ${columns}: ${line}`);
      assert.match(drawn[drawn.length - 1] ?? "", /MB\/s \d+s/);
    }
  });

  it("formatDuration", () => {
    assert.equal(formatDuration(42.4), "42s");
    assert.equal(formatDuration(185), "3m05s");
    assert.equal(formatDuration(3720), "1h02m");
  });
});

describe("mirrorProgress", () => {
  const blob = (n: number, size: number) => ({ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: `sha256:${String(n).repeat(64).slice(0, 64)}`, size });
  const image = (p: ReturnType<typeof mirrorProgress>, reference: string, blobs: ReturnType<typeof blob>[]): void => {
    p.event(reference, { type: "plan", blobs, manifests: 1 });
    for (const b of blobs) {
      p.event(reference, { type: "blob-start", descriptor: b });
      p.event(reference, { type: "blob-progress", descriptor: b, bytes: b.size / 2 });
      p.event(reference, { type: "blob-done", descriptor: b, outcome: "copied" });
    }
  };

  it("json: each image (ORG/REPO:TAG) and its blobs, and a total that grows with each image's plan", () => {
    const out = capture();
    const p = mirrorProgress(createProgress("json", out.stream));
    // The same blob in two images at once: counted in each, apart.
    image(p, "quay.io/kolla/a:1", [blob(1, 100), blob(2, 50)]);
    image(p, "quay.io/kolla/b:1", [blob(1, 100)]);
    p.imageDone("quay.io/kolla/a:1", "copied");
    p.imageDone("quay.io/kolla/b:1", "copied");
    p.imageDone("quay.io/kolla/c:1", "failed");
    p.finish();
    const lines = out.text().trim().split("\n").map((l) => JSON.parse(l) as { event: string; id: string; label: string; total: number; bytes?: number });
    const of = (id: string) => lines.filter((l) => l.id === id).map((l) => [l.event, l.label, l.total, l.bytes]);
    assert.deepEqual(of("quay.io/kolla/a:1"), [["start", "kolla/a:1", 150, undefined], ["copied", "kolla/a:1", 150, 150]]);
    assert.deepEqual(of("quay.io/kolla/b:1"), [["start", "kolla/b:1", 100, undefined], ["copied", "kolla/b:1", 100, 100]]);
    assert.deepEqual(of("quay.io/kolla/c:1"), [["start", "kolla/c:1", 0, undefined], ["failed", "kolla/c:1", 0, 0]]);
    assert.deepEqual(of(`quay.io/kolla/b:1 ${blob(1, 100).digest}`).map((l) => l[0]), ["start", "copied"]);
    assert.deepEqual(of("total"), [["start", "total", 150, undefined], ["done", "total", 250, 250]]);
    assert.equal(lines.at(-1)?.id, "total");
  });

  it("tty: long image labels keep their end and every line fits the terminal; the total bar grows", async () => {
    const out = capture(true);
    out.stream.columns = 80;
    const progress = createProgress("tty", out.stream);
    const p = mirrorProgress(progress);
    image(p, "quay.io/kolla/nova-scheduler-long-name:2025.1", [blob(3, 4_000_000)]);
    image(p, "quay.io/kolla/b:1", [blob(4, 2_000_000)]);
    await new Promise((resolve) => setTimeout(resolve, 150));
    p.finish();
    progress.stop();
    const drawn = out.text().split(/\x1B\[\d*G|[\r\n]/).map((l) => l.replace(/\x1B\[[0-9;?]*[A-Za-z]/g, "")).filter((l) => l.trim() !== "");
    for (const line of drawn) assert.ok(line.length <= 80, `${line.length} > 80: ${line}`);
    assert.ok(drawn.some((l) => l.includes("…") && l.includes("2025.1")), drawn.join("\n"));
    assert.ok(drawn.some((l) => /total +\[[^\]]+\] +100% 6\.00 MB\/6\.00 MB/.test(l)), drawn.join("\n"));
  });
});
