// Writes dist/cli.cjs.cache: V8's code cache for the CLI bundle, made in a process that loads
// the bundle exactly as bin/quayside.js does (same V8 flags, or V8 rejects the cache) and has run
// `--help` commands first, so the functions they compiled are in the cache too.
import { writeFileSync, renameSync } from "node:fs";
import { Writable } from "node:stream";
import { CODE_CACHE, loadCli } from "../bin/load-cli.js";

const { main, script } = loadCli();
const sink = () => new Writable({ write: (_chunk, _encoding, callback) => callback() });
for (const args of [["--help"], ["copy", "--help"], ["manifest", "--help"]]) {
  await main(args, { stdin: process.stdin, stdout: sink(), stderr: sink(), env: {} });
}
const temporary = `${CODE_CACHE}.${process.pid}.tmp`;
writeFileSync(temporary, script.createCachedData());
renameSync(temporary, CODE_CACHE);
