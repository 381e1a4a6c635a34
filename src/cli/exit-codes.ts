/** Exit codes a script can trust. */
import { loadedLibrary } from "./library.js";

export const ExitCode = {
  Ok: 0,
  Error: 1,
  Usage: 2,
  NotFound: 3,
  Unauthorized: 4,
} as const;

const USAGE_CODES = new Set(["USAGE", "INVALID_REFERENCE", "INVALID_DIGEST", "INVALID_PLATFORM"]);

export function exitCodeFor(err: unknown): number {
  // Not loaded: then nothing threw one of its errors.
  const library = loadedLibrary();
  if (library === undefined || !(err instanceof library.QuaysideError)) return ExitCode.Error;
  if (USAGE_CODES.has(err.code) || err.category === "unsupported") return ExitCode.Usage;
  if (err.category === "not-found") return ExitCode.NotFound;
  if (err.category === "unauthorized" || err.category === "denied") return ExitCode.Unauthorized;
  return ExitCode.Error;
}
