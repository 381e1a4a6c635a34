/** Files appear whole or not at all: write to a temporary name beside the target, rename when complete. */
import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";

export function temporaryPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${randomBytes(6).toString("hex")}.partial`);
}

/** Stream into `path` atomically; on any error (digest mismatch included) nothing is left behind. */
export async function writeStreamAtomic(path: string, source: Readable, options: { mode?: number } = {}): Promise<void> {
  const temporary = temporaryPathFor(path);
  const file = createWriteStream(temporary, { flags: "wx", mode: options.mode ?? 0o644 });
  try {
    await pipeline(source, file);
    await rename(temporary, path);
  } catch (err) {
    // createWriteStream opens asynchronously: when the source fails first, pipeline() can reject
    // before the open, and an unlink now would miss the file the open creates later. 'close'
    // comes only after a pending open finished, so wait for it.
    if (!file.closed) await new Promise<void>((resolve) => file.once("close", () => resolve()));
    await unlink(temporary).catch(() => undefined);
    throw err;
  }
}
