// Loads the bundled CLI (dist/cli.cjs) with V8's code cache (dist/cli.cjs.cache, written by
// `npm run build`): start-up is most of a short command's time, and Node 20 has no compile
// cache of its own. A cache made by another Node or with other V8 flags is rejected by V8,
// and the bundle is then compiled as usual: slower, never wrong.
//
// CommonJS (bin/package.json): an ES module entry costs every command Node's ESM loader.
"use strict";
const { readFileSync } = require("node:fs");
const { dirname, join } = require("node:path");
const { setFlagsFromString } = require("node:v8");
const { Script } = require("node:vm");

const BUNDLE = join(__dirname, "..", "dist", "cli.cjs");
const CODE_CACHE = `${BUNDLE}.cache`;

/** Commands that stream blobs through the process (copy, tag into another repository, blob get/put). */
const TRANSFERS = new Set(["copy", "tag", "blob"]);

/**
 * @param {readonly string[]} [args] the command line, to tune V8 for the command: an argument
 * that names a command is enough (a stray match only tunes the garbage collector of a short run).
 * @returns {{ main: typeof import("../dist/cli/main.js").main, abortOnSignals: typeof import("../dist/cli/main.js").abortOnSignals, script: import("node:vm").Script }}
 * the CLI's entry point, and the compiled bundle (scripts/write-code-cache.mjs makes the cache from it).
 */
function loadCli(args = []) {
  // Set before the bundle is compiled: V8 rejects a code cache made under other flags.
  // A CLI run is short: compile undici's WebAssembly HTTP parser with the baseline tier only.
  // Otherwise V8's optimizing tier-up keeps the process alive 100-500 ms after the work is done.
  setFlagsFromString("--liftoff-only");
  // A transfer makes a 64 KiB buffer per socket read, garbage a moment later, which only a
  // young-generation collection frees. Keep that generation at its first size (1 MB).
  setFlagsFromString("--semi-space-growth-factor=1");
  // The build keeps the bundle ASCII and already wrapped in the CommonJS function
  // (scripts/bundle-cli.mjs): read as latin1 it is the one-byte string V8 compiles as is,
  // with no second copy (a UTF-8 read or a wrapped copy would each touch another megabyte).
  const source = readFileSync(BUNDLE, "latin1");
  let cachedData;
  try {
    cachedData = readFileSync(CODE_CACHE);
  } catch {
    cachedData = undefined;
  }
  const script = new Script(source, { filename: BUNDLE, cachedData });
  // For a transfer, also collect that generation when a tenth full rather than when 80 % full:
  // frequent, cheap scavenges. Measured on a 230 MB copy: peak RSS 105-115 MB with V8's
  // defaults, 88-102 MB with the growth factor alone, 78-84 MB with both, for about 3 % more CPU
  // (bench/README.md). A one-shot read would only collect twice as often. Set after the compile
  // (V8 checks the flags a code cache was made under when it reads it, not later).
  if (args.some((arg) => TRANSFERS.has(arg))) setFlagsFromString("--minor-gc-task-trigger=10");
  const module = { exports: {} };
  // The bundle requires Node's built-ins only: any require will do.
  script.runInThisContext()(module.exports, require, module, BUNDLE, dirname(BUNDLE));
  return { main: module.exports.main, abortOnSignals: module.exports.abortOnSignals, script };
}

exports.BUNDLE = BUNDLE;
exports.CODE_CACHE = CODE_CACHE;
exports.loadCli = loadCli;
