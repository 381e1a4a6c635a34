/**
 * Progress on stderr for long transfers: bars on a TTY (one per item plus a total),
 * plain lines otherwise, JSON lines for CI logs, or nothing.
 */
import { MultiBar, Presets, type SingleBar } from "cli-progress";
import type { Writable } from "node:stream";
import { formatBytes } from "./output.js";

export type ProgressMode = "tty" | "plain" | "json" | "none";

export interface ProgressReporter {
  start(id: string, label: string, total: number): void;
  update(id: string, bytes: number): void;
  done(id: string, outcome?: string): void;
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

class BarProgress implements ProgressReporter {
  private readonly multi: MultiBar;
  private readonly bars = new Map<string, SingleBar>();

  constructor(stderr: Writable) {
    this.multi = new MultiBar(
      {
        stream: stderr as NodeJS.WriteStream,
        format: " {label} [{bar}] {percentage}% {done}/{size}",
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
    this.bars.set(id, this.multi.create(Math.max(total, 1), 0, { label, done: formatBytes(0), size: formatBytes(total) }));
  }

  update(id: string, bytes: number): void {
    const bar = this.bars.get(id);
    bar?.update(bytes, { done: formatBytes(bytes) });
  }

  done(id: string): void {
    const bar = this.bars.get(id);
    if (bar) bar.update(bar.getTotal(), { done: formatBytes(bar.getTotal()) });
  }

  stop(): void {
    this.multi.stop();
  }
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
