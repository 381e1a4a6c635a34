// Loads the bundled CLI with V8's code caches (written by `npm run build`): start-up is most of a
// short command's time, and Node 20 has no compile cache of its own. Two bundles: dist/cli.cjs,
// the command line (all --help or a usage error needs), and dist/cli-lib.cjs, the library and the
// command modules, loaded when a command first needs them. A cache made by another Node or with
// other V8 flags is rejected by V8, and the bundle is then compiled as usual: slower, never wrong.
//
// CommonJS (bin/package.json): an ES module entry costs every command Node's ESM loader.
"use strict";
const { readFileSync } = require("node:fs");
const { dirname, join } = require("node:path");
const { setFlagsFromString } = require("node:v8");
const { Script } = require("node:vm");

const BUNDLE = join(__dirname, "..", "dist", "cli.cjs");
/** The library and the command modules (scripts/bundle-cli.mjs), loaded when a command first needs them. */
const LIBRARY_BUNDLE = join(__dirname, "..", "dist", "cli-lib.cjs");
const LIBRARY_PREFIX = "quayside-cli-lib:";
/** undici's HTTP parser with SIMD, WebAssembly (scripts/bundle-cli.mjs writes it; see httpParser()). */
const SIMD_PARSER = join(__dirname, "..", "dist", "llhttp_simd.wasm");

/** Commands that stream blobs through the process (copy, tag into another repository, blob get/put). */
const TRANSFERS = new Set(["copy", "tag", "blob"]);

/**
 * Compiles a bundle with its code cache (`${file}.cache`) and runs it: its exports, and the
 * script (scripts/write-code-cache.mjs makes the cache from it). A cache made by another Node or
 * under other V8 flags is rejected by V8, and the bundle is then compiled as usual.
 */
function load(file, requireForBundle, beforeRun = () => undefined) {
  // The build keeps a bundle ASCII and already wrapped in the CommonJS function
  // (scripts/bundle-cli.mjs): read as latin1 it is the one-byte string V8 compiles as is,
  // with no second copy (a UTF-8 read or a wrapped copy would each touch another megabyte).
  const source = readFileSync(file, "latin1");
  let cachedData;
  try {
    cachedData = readFileSync(`${file}.cache`);
  } catch {
    cachedData = undefined;
  }
  const script = new Script(source, { filename: file, cachedData });
  beforeRun();
  const module = { exports: {} };
  script.runInThisContext()(module.exports, requireForBundle, module, file, dirname(file));
  return { exports: module.exports, script };
}

/**
 * undici's HTTP parser, compiled on one of V8's background threads from the moment the library
 * loads, read from a file of its own: undici would decode it from 72 KB of base64 in the bundle and
 * compile it on the main thread when the first response arrives. Measured on a one-shot `digest`:
 * 3-4 ms less (bench/README.md). The compile is lazy (V8's default): each function is compiled on
 * its first call, on the main thread still; compiling them all in the background was no faster,
 * since it then finished only just before the first response on two cores. The library's bundle
 * asks for it as `require("quayside-cli:http-parser")` (scripts/bundle-shims/llhttp-simd-module.cjs).
 */
function httpParser() {
  let bytes;
  let compiled;
  try {
    bytes = readFileSync(SIMD_PARSER);
    // A failure (no SIMD here) shows again in compiledModule(), where undici handles it.
    WebAssembly.compile(bytes).then((module) => (compiled = module), () => undefined);
  } catch {
    // No file: compiledModule() reads it again and throws, and undici takes its other parser.
  }
  return {
    /** The compiled parser; compiled now if the background compile has not finished (or failed). */
    compiledModule: () => compiled ?? new WebAssembly.Module(bytes ?? readFileSync(SIMD_PARSER)),
  };
}

/**
 * @param {readonly string[]} [args] the command line, to tune V8 for the command: an argument
 * that names a command is enough (a stray match only tunes the garbage collector of a short run).
 * @returns {{ main: typeof import("../dist/cli/main.js").main, abortOnSignals: typeof import("../dist/cli/main.js").abortOnSignals, script: import("node:vm").Script, libraryScript: () => import("node:vm").Script | undefined }}
 * the CLI's entry point, and its compiled bundles, the library's once loaded (scripts/write-code-cache.mjs makes their caches).
 */
function loadCli(args = []) {
  // Set before the bundles are compiled: V8 rejects a code cache made under other flags.
  // A CLI run is short: compile undici's WebAssembly HTTP parser with the baseline tier only.
  // Otherwise V8's optimizing tier-up keeps the process alive 100-500 ms after the work is done.
  setFlagsFromString("--liftoff-only");
  // A transfer makes a 64 KiB buffer per socket read, garbage a moment later, which only a
  // young-generation collection frees. Keep that generation at its first size (1 MB).
  setFlagsFromString("--semi-space-growth-factor=1");
  // For a transfer, also collect that generation when a tenth full rather than when 80 % full:
  // frequent, cheap scavenges. Measured on a 230 MB copy: peak RSS 105-115 MB with V8's defaults,
  // 88-102 MB with the growth factor alone, 78-84 MB with both, for about 3 % more CPU
  // (bench/README.md). A one-shot read would only collect twice as often. Set once the library's
  // bundle is compiled, the last compile with a code cache (V8 checks the flags a cache was made
  // under when it reads it, not later), before any transfer.
  const transfer = args.some((arg) => TRANSFERS.has(arg));
  let library;
  let parser;
  const requireForLibrary = (id) => (id === "quayside-cli:http-parser" ? parser : require(id));
  // The bundles require Node's built-ins, and the command line's the library's bundle.
  const requireForCli = (id) => {
    if (!id.startsWith(LIBRARY_PREFIX)) return require(id);
    if (library === undefined) {
      // Every command that loads the library but a few local ones talks to a registry.
      parser = httpParser();
      library = load(LIBRARY_BUNDLE, requireForLibrary, () => transfer && setFlagsFromString("--minor-gc-task-trigger=10"));
    }
    return library.exports[id.slice(LIBRARY_PREFIX.length)];
  };
  const cli = load(BUNDLE, requireForCli);
  return { main: cli.exports.main, abortOnSignals: cli.exports.abortOnSignals, script: cli.script, libraryScript: () => library?.script };
}

exports.BUNDLE = BUNDLE;
exports.LIBRARY_BUNDLE = LIBRARY_BUNDLE;
exports.loadCli = loadCli;
