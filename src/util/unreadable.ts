/** A file the user named that cannot be read: their input, said in one line (exit 2). */
import { UsageError } from "../errors.js";

export function unreadableFile(path: string, err: unknown): UsageError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const why = code === "ENOENT" ? "no such file" : code === "EISDIR" ? "a directory, not a file" : code === "EACCES" ? "permission denied" : err instanceof Error ? err.message : String(err);
  return new UsageError(`cannot read ${JSON.stringify(path.slice(0, 200))}: ${why}`);
}
