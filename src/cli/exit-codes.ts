/** Exit codes a script can trust. */
import { QuaysideError } from "../index.js";

export const ExitCode = {
  Ok: 0,
  Error: 1,
  Usage: 2,
  NotFound: 3,
  Unauthorized: 4,
} as const;

const USAGE_CODES = new Set(["USAGE", "INVALID_REFERENCE", "INVALID_DIGEST", "INVALID_PLATFORM"]);

export function exitCodeFor(err: unknown): number {
  if (!(err instanceof QuaysideError)) return ExitCode.Error;
  if (USAGE_CODES.has(err.code) || err.category === "unsupported") return ExitCode.Usage;
  if (err.category === "not-found") return ExitCode.NotFound;
  if (err.category === "unauthorized" || err.category === "denied") return ExitCode.Unauthorized;
  return ExitCode.Error;
}
