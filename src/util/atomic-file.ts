/** Files appear whole or not at all: write to a temporary name beside the target, rename when complete. */
import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { readdir, rename, stat, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";

export function temporaryPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${randomBytes(6).toString("hex")}.partial`);
}

/** The file name a temporary name of temporaryPathFor's stands for, or undefined for any other name. */
export function temporaryTarget(name: string): string | undefined {
  return /^\.(.+)\.[0-9a-f]{12}\.partial$/.exec(name)?.[1];
}

/**
 * Removes the temporary files of ours in `dir` (for `target` only, when given) that nobody has
 * written to since `idleSince`: what a run killed before it could clean up left behind. A live
 * writer touches its file as it writes, so one that started before `idleSince` and is still
 * going is left alone. Best effort: a file that cannot be removed stays.
 */
export async function removeStaleTemporaries(dir: string, idleSince: number, target?: string): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  await Promise.all(
    names.map(async (name) => {
      const of = temporaryTarget(name);
      if (of === undefined || (target !== undefined && of !== target)) return;
      const path = join(dir, name);
      const info = await stat(path).catch(() => undefined);
      if (info?.isFile() && info.mtimeMs < idleSince) await unlink(path).catch(() => undefined);
    }),
  );
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
