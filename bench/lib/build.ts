/** dist/ for the CLI: rebuilt before a benchmark runs it, or checked when --no-build says to use what is there. */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { BenchOptions } from "./benchmark.js";
import { execOk } from "./exec.js";
import { ROOT } from "./paths.js";

const BUILD_TIMEOUT_MS = 300_000;

/** Builds dist/ (tsc -p tsconfig.build.json) unless --no-build; then dist/cli/main.js must exist. Runs once per process. */
export function buildDist(options: BenchOptions): Promise<void> {
  return (built ??= build(options));
}

let built: Promise<void> | undefined;

async function build(options: BenchOptions): Promise<void> {
  const main = join(ROOT, "dist", "cli", "main.js");
  if (!options.build) {
    if (!existsSync(main)) throw new Error(`${main} is missing: run \`npm run build\` first, or drop --no-build`);
    options.log("using the existing dist/ for the CLI (--no-build)");
    return;
  }
  options.log("building dist/ for the CLI (tsc -p tsconfig.build.json) ...");
  await execOk(process.execPath, [join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.build.json"], {
    cwd: ROOT,
    timeoutMs: BUILD_TIMEOUT_MS,
  });
}
