/** Versions of the tools under test, for the results file. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { exec } from "./exec.js";
import { ROOT } from "./paths.js";

export function quaysideVersion(): string {
  const manifest = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version?: unknown };
  return typeof manifest.version === "string" ? manifest.version : "unknown";
}

/** The first line `command ARGS` prints, or "unknown". */
export async function toolVersion(command: string, args: readonly string[]): Promise<string> {
  try {
    const result = await exec(command, args, { timeoutMs: 10_000 });
    const line = `${result.stdout}\n${result.stderr}`.split("\n").find((l) => l.trim() !== "");
    return result.code === 0 && line !== undefined ? line.trim() : "unknown";
  } catch {
    return "unknown";
  }
}
