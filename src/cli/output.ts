/**
 * The one output formatter: every command hands it a result and a text rendering;
 * `--json` prints the result as JSON instead. Errors are one line on stderr.
 */
import type { Writable } from "node:stream";

export interface OutputStreams {
  stdout: Writable & { isTTY?: boolean };
  stderr: Writable & { isTTY?: boolean };
}

export class Output {
  constructor(
    readonly json: boolean,
    readonly streams: OutputStreams,
    readonly quiet = false,
  ) {}

  /** Print a command's result: JSON with --json, else the text lines. */
  result<T>(value: T, text: (value: T) => string | readonly string[]): void {
    if (this.json) {
      this.streams.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
      return;
    }
    const rendered = text(value);
    const lines = typeof rendered === "string" ? [rendered] : rendered;
    if (lines.length > 0) this.streams.stdout.write(`${lines.join("\n")}\n`);
  }

  /** One line of a streamed listing (text mode). */
  line(text: string): void {
    this.streams.stdout.write(`${text}\n`);
  }

  /** Exact bytes, untouched (manifests, configs, blobs). */
  raw(bytes: Uint8Array): void {
    this.streams.stdout.write(bytes);
  }

  info(message: string): void {
    if (!this.quiet) this.streams.stderr.write(`${message}\n`);
  }

  error(message: string): void {
    this.streams.stderr.write(`quayside: ${message}\n`);
  }
}

const UNITS = ["B", "kB", "MB", "GB", "TB"];

/** Decimal units, like docker and crane print sizes. */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(value < 10 ? 2 : 1)} ${UNITS[unit]}`;
}

/** Left-aligned columns separated by two spaces. */
export function table(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join("  ").trimEnd());
}
