/**
 * dist/ for the CLI: rebuilt before a benchmark runs it (as `npm run build` does: tsc, then the
 * esbuild bundle dist/cli.cjs and its V8 code cache, which bin/quayside.js loads), or checked
 * when --no-build says to use what is there.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { BenchOptions } from "./benchmark.js";
import { execOk } from "./exec.js";
import { ROOT } from "./paths.js";

const BUILD_TIMEOUT_MS = 300_000;

/** Builds dist/ unless --no-build; then the bundle the CLI loads must exist. Runs once per process. */
export function buildDist(options: BenchOptions): Promise<void> {
  return (built ??= build(options));
}

let built: Promise<void> | undefined;

async function build(options: BenchOptions): Promise<void> {
  const bundle = join(ROOT, "dist", "cli.cjs");
  if (!options.build) {
    if (!existsSync(bundle)) throw new Error(`${bundle} is missing: run \`npm run build\` first, or drop --no-build`);
    options.log("using the existing dist/ for the CLI (--no-build)");
    return;
  }
  options.log("building dist/ for the CLI (tsc -p tsconfig.build.json, then the bundle and its code cache) ...");
  await execOk(process.execPath, [join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.build.json"], {
    cwd: ROOT,
    timeoutMs: BUILD_TIMEOUT_MS,
  });
  // Without this the CLI rows would run whatever bundle the last `npm run build` left.
  await execOk(process.execPath, [join(ROOT, "scripts", "bundle-cli.mjs")], { cwd: ROOT, timeoutMs: BUILD_TIMEOUT_MS });
}
