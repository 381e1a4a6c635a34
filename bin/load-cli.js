// Loads the bundled CLI (dist/cli.cjs) with V8's code cache (dist/cli.cjs.cache, written by
// `npm run build`): start-up is most of a short command's time, and Node 20 has no compile
// cache of its own. A cache made by another Node or with other V8 flags is rejected by V8,
// and the bundle is then compiled as usual: slower, never wrong.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { setFlagsFromString } from "node:v8";
import { Script } from "node:vm";

export const BUNDLE = fileURLToPath(new URL("../dist/cli.cjs", import.meta.url));
export const CODE_CACHE = `${BUNDLE}.cache`;

/**
 * @returns {{ main: typeof import("../dist/cli/main.js").main, abortOnSignals: typeof import("../dist/cli/main.js").abortOnSignals, script: Script }} the CLI's entry
 * point, and the compiled bundle (scripts/write-code-cache.mjs makes the cache from it).
 */
export function loadCli() {
  // Set before the bundle is compiled: V8 rejects a code cache made under other flags.
  // A CLI run is short: compile undici's WebAssembly HTTP parser with the baseline tier only.
  // Otherwise V8's optimizing tier-up keeps the process alive 100-500 ms after the work is done.
  setFlagsFromString("--liftoff-only");
  // A transfer makes a 64 KiB buffer per socket read, garbage a moment later, which only a
  // young-generation collection frees. Keep that generation at its first size (1 MB) and collect
  // it when a tenth full rather than when 80 % full: frequent, cheap scavenges. Measured on a
  // 230 MB copy: peak RSS 105-115 MB with V8's defaults, 88-102 MB with the first flag alone,
  // 78-84 MB with both, for about 3 % more CPU (bench/README.md).
  setFlagsFromString("--semi-space-growth-factor=1");
  setFlagsFromString("--minor-gc-task-trigger=10");
  const source = readFileSync(BUNDLE, "utf8");
  let cachedData;
  try {
    cachedData = readFileSync(CODE_CACHE);
  } catch {
    cachedData = undefined;
  }
  // The CommonJS wrapper, as Node's own loader puts around a module.
  const script = new Script(`(function (exports, require, module, __filename, __dirname) { ${source}\n})`, { filename: BUNDLE, cachedData });
  const module = { exports: {} };
  script.runInThisContext()(module.exports, createRequire(BUNDLE), module, BUNDLE, dirname(BUNDLE));
  return { main: module.exports.main, abortOnSignals: module.exports.abortOnSignals, script };
}
