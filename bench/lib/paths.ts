/** Where things are, whether running from bench/ sources or from build/bench/. */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 10; i++) {
    const manifest = join(dir, "package.json");
    if (existsSync(manifest)) {
      const { name } = JSON.parse(readFileSync(manifest, "utf8")) as { name?: unknown };
      if (name === "quayside") return dir;
    }
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new Error("cannot find the quayside repository root above the benchmark scripts");
}

/** The repository root (holds package.json, bin/, dist/, bench/). */
export const ROOT = findRoot();
/** bench/ in the source tree: peers and results live there, not under build/. */
export const BENCH_DIR = join(ROOT, "bench");
export const PEERS_DIR = join(BENCH_DIR, "peers");
export const RESULTS_DIR = join(BENCH_DIR, "results");
