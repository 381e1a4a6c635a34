/**
 * Progress on stderr for long transfers: bars on a TTY (one per item plus a total),
 * plain lines otherwise, JSON lines for CI logs, or nothing.
 */
import { MultiBar, Presets, type SingleBar } from "cli-progress";
import type { Writable } from "node:stream";
import type { CopyEvent } from "../index.js";
import { formatBytes } from "./output.js";

export type ProgressMode = "tty" | "plain" | "json" | "none";

export interface ProgressReporter {
  start(id: string, label: string, total: number): void;
  update(id: string, bytes: number): void;
  done(id: string, outcome?: string): void;
  /** A new total for an item whose size grows as it becomes known (a mirror's overall total). */
  resize?(id: string, total: number): void;
  /** Close the display; call once, also on failure. */
  stop(): void;
}

export function chooseProgressMode(requested: string | undefined, stderr: Writable & { isTTY?: boolean }, quiet: boolean): ProgressMode {
  if (quiet) return "none";
  if (requested === "json" || requested === "plain" || requested === "none" || requested === "tty") return requested;
  return stderr.isTTY ? "tty" : "plain";
}

export function createProgress(mode: ProgressMode, stderr: Writable): ProgressReporter {
  switch (mode) {
    case "tty":
      return new BarProgress(stderr);
    case "plain":
      return new LineProgress(stderr, false);
    case "json":
      return new LineProgress(stderr, true);
    case "none":
      return { start() {}, update() {}, done() {}, stop() {} };
  }
}

const LABEL_WIDTH = 12;
/** Everything on a bar's line but the bar: label, percentage, sizes, speed, time left. */
const BAR_TEXT_WIDTH = LABEL_WIDTH + 52;

class BarProgress implements ProgressReporter {
  private readonly multi: MultiBar;
  private readonly bars = new Map<string, { bar: SingleBar; started: number }>();

  constructor(stderr: Writable & { columns?: number }) {
    // The bar takes what the terminal's width leaves, so a line never wraps.
    const columns = stderr.columns ?? 80;
    this.multi = new MultiBar(
      {
        stream: stderr as NodeJS.WriteStream,
        format: " {label} [{bar}] {percentage}% {done}/{size} {speed} {left}",
        barsize: Math.max(5, Math.min(40, columns - BAR_TEXT_WIDTH)),
        hideCursor: true,
        clearOnComplete: false,
        autopadding: true,
        fps: 10,
        formatValue: (value, _options, type) => (type === "percentage" ? String(value).padStart(3) : String(value)),
      },
      Presets.shades_classic,
    );
  }

  start(id: string, label: string, total: number): void {
    // A long label (a mirror's ORG/REPO:TAG) keeps its end, the part that tells images apart.
    const fitted = label.length > LABEL_WIDTH ? `…${label.slice(label.length - LABEL_WIDTH + 1)}` : label.padEnd(LABEL_WIDTH);
    const bar = this.multi.create(Math.max(total, 1), 0, { label: fitted, done: formatBytes(0), size: formatBytes(total), speed: "", left: "" });
    this.bars.set(id, { bar, started: Date.now() });
  }

  resize(id: string, total: number): void {
    const item = this.bars.get(id);
    if (!item) return;
    item.bar.setTotal(Math.max(total, 1));
    item.bar.update({ size: formatBytes(total) });
  }

  update(id: string, bytes: number): void {
    const item = this.bars.get(id);
    if (!item) return;
    const seconds = (Date.now() - item.started) / 1000;
    const rate = seconds > 0.5 ? bytes / seconds : 0;
    const total = item.bar.getTotal();
    item.bar.update(bytes, {
      done: formatBytes(bytes),
      speed: rate > 0 ? `${formatBytes(rate)}/s` : "",
      left: rate > 0 && bytes < total ? formatDuration((total - bytes) / rate) : "",
    });
  }

  done(id: string): void {
    const item = this.bars.get(id);
    if (item) item.bar.update(item.bar.getTotal(), { done: formatBytes(item.bar.getTotal()), left: "" });
  }

  stop(): void {
    this.multi.stop();
  }
}

/** "42s", "3m05s", "1h02m": time left, short. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

/**
 * Copy engine events as one bar (or line) per blob plus a total. The total is done once, after
 * the last blob, however the bytes were counted (skipped and mounted blobs move none).
 */
export function copyProgress(progress: ProgressReporter): (event: CopyEvent) => void {
  const counted = new Map<string, number>();
  let blobs = 0;
  let finished = 0;
  let transferred = 0;
  const finishTotal = (): void => {
    if (finished === blobs) progress.done("total");
  };
  return (event) => {
    switch (event.type) {
      case "plan":
        blobs = event.blobs.length;
        progress.start("total", "total", event.blobs.reduce((sum, b) => sum + b.size, 0));
        if (blobs === 0) finishTotal();
        return;
      case "blob-start":
        progress.start(event.descriptor.digest, event.descriptor.digest.slice(7, 19), event.descriptor.size);
        return;
      case "blob-progress":
      case "blob-done": {
        const { digest, size } = event.descriptor;
        const bytes = event.type === "blob-done" ? size : event.bytes;
        transferred += bytes - (counted.get(digest) ?? 0);
        counted.set(digest, bytes);
        if (event.type === "blob-progress") progress.update(digest, bytes);
        else progress.done(digest, event.outcome);
        progress.update("total", transferred);
        if (event.type === "blob-done") {
          finished++;
          finishTotal();
        }
        return;
      }
      case "manifest-done":
        return;
    }
  };
}

export interface MirrorProgress {
  /** A copy engine event of the image `reference`. */
  event(reference: string, event: CopyEvent): void;
  /** The image is done: "copied" or "failed". */
  imageDone(reference: string, outcome: string): void;
  /** After the last image: the overall total is done. */
  finish(): void;
}

/**
 * A mirror's progress: each image as an item (labelled ORG/REPO:TAG) with its blobs as items of
 * their own, as a single copy shows them, and one overall "total" whose size grows as each
 * image's plan arrives (images copy a few at a time; no size is known before they start).
 */
export function mirrorProgress(progress: ProgressReporter): MirrorProgress {
  let overall: { total: number; bytes: number } | undefined;
  const images = new Map<string, { bytes: number; blobs: Map<string, number> }>();
  return {
    event(reference, event) {
      switch (event.type) {
        case "plan": {
          const size = event.blobs.reduce((sum, b) => sum + b.size, 0);
          if (overall === undefined) {
            overall = { total: size, bytes: 0 };
            progress.start("total", "total", size);
          } else {
            overall.total += size;
            progress.resize?.("total", overall.total);
          }
          images.set(reference, { bytes: 0, blobs: new Map() });
          // The image as the user knows it: ORG/REPO:TAG, without the host.
          progress.start(reference, reference.slice(reference.indexOf("/") + 1), size);
          return;
        }
        case "blob-start":
          progress.start(`${reference} ${event.descriptor.digest}`, event.descriptor.digest.slice(7, 19), event.descriptor.size);
          return;
        case "blob-progress":
        case "blob-done": {
          const image = images.get(reference);
          if (image === undefined || overall === undefined) return;
          const { digest, size } = event.descriptor;
          const bytes = event.type === "blob-done" ? size : event.bytes;
          const delta = bytes - (image.blobs.get(digest) ?? 0);
          image.blobs.set(digest, bytes);
          image.bytes += delta;
          overall.bytes += delta;
          const id = `${reference} ${digest}`;
          if (event.type === "blob-progress") progress.update(id, bytes);
          else progress.done(id, event.outcome);
          progress.update(reference, image.bytes);
          progress.update("total", overall.bytes);
          return;
        }
        case "manifest-done":
          return;
      }
    },
    imageDone(reference, outcome) {
      // An image that failed before its copy planned anything still gets its line.
      if (!images.has(reference)) {
        images.set(reference, { bytes: 0, blobs: new Map() });
        progress.start(reference, reference.slice(reference.indexOf("/") + 1), 0);
      }
      progress.done(reference, outcome);
    },
    finish() {
      if (overall !== undefined) progress.done("total");
    },
  };
}

/** One line when an item starts and ends; never a line per chunk, so logs stay short. */
class LineProgress implements ProgressReporter {
  private readonly items = new Map<string, { label: string; total: number; bytes: number; started: number }>();

  constructor(
    private readonly stderr: Writable,
    private readonly json: boolean,
  ) {}

  start(id: string, label: string, total: number): void {
    this.items.set(id, { label, total, bytes: 0, started: Date.now() });
    this.emit({ event: "start", id, label, total });
  }

  update(id: string, bytes: number): void {
    const item = this.items.get(id);
    if (item) item.bytes = bytes;
  }

  resize(id: string, total: number): void {
    const item = this.items.get(id);
    if (item) item.total = total;
  }

  done(id: string, outcome = "done"): void {
    const item = this.items.get(id);
    if (!item) return;
    this.emit({ event: outcome, id, label: item.label, bytes: item.bytes, total: item.total, ms: Date.now() - item.started });
  }

  stop(): void {}

  private emit(event: { event: string; id: string; label: string; total: number; bytes?: number; ms?: number }): void {
    if (this.json) {
      this.stderr.write(`${JSON.stringify(event)}\n`);
      return;
    }
    const size = event.bytes !== undefined ? formatBytes(event.bytes) : formatBytes(event.total);
    this.stderr.write(`${event.event} ${event.label} (${size}${event.ms !== undefined ? `, ${event.ms} ms` : ""})\n`);
  }
}

/**
 * One download's bar (blob get): on a terminal by default, silent in scripts unless `--progress`
 * says otherwise. `run` gets the callback to report bytes with; the bar ends when it resolves.
 */
export async function withDownloadBar<T>(
  requested: string | undefined,
  stderr: Writable & { isTTY?: boolean },
  quiet: boolean,
  label: string,
  run: (onProgress: (bytes: number, total: number) => void) => Promise<T>,
): Promise<T> {
  const progress = createProgress(chooseProgressMode(requested ?? (stderr.isTTY ? "tty" : "none"), stderr, quiet), stderr);
  let started = false;
  try {
    const result = await run((bytes, total) => {
      if (!started) progress.start("blob", label, total);
      started = true;
      progress.update("blob", bytes);
    });
    progress.done("blob");
    return result;
  } finally {
    progress.stop();
  }
}
