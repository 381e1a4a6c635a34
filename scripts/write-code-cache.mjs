// Writes dist/cli.cjs.cache: V8's code cache for the CLI bundle, made in a process that loads
// the bundle exactly as bin/quayside.js does (same V8 flags, or V8 rejects the cache) and has run
// `--help` commands first, so the functions they compiled are in the cache too. (Also running a
// `digest` against a stand-in registry put the read path in it: a cache 2.5 times as big, which
// every command then reads, and no faster digest.)
import { readFileSync, writeFileSync, renameSync, rmSync } from "node:fs";
import { Readable, Writable } from "node:stream";
import { CODE_CACHE, loadCli } from "../bin/load-cli.js";

// V8 accepts a cache made for another bundle of the same length: never start from an old one.
rmSync(CODE_CACHE, { force: true });
const { main, script } = loadCli();
const sink = () => new Writable({ write: (_chunk, _encoding, callback) => callback() });
const io = (stdout = sink()) => ({ stdin: Readable.from([]), stdout, stderr: sink(), env: {} });
for (const args of [["--help"], ["copy", "--help"], ["manifest", "--help"]]) {
  await main(args, io());
}

// bin/quayside.js answers --version from package.json without loading the bundle: they must agree.
let printed = "";
await main(["--version"], io(new Writable({ write: (chunk, _encoding, callback) => callback(void (printed += chunk)) })));
const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
if (printed !== `${version}\n`) throw new Error(`write-code-cache: the CLI prints version ${JSON.stringify(printed)}, package.json says ${version}`);

const temporary = `${CODE_CACHE}.${process.pid}.tmp`;
writeFileSync(temporary, script.createCachedData());
renameSync(temporary, CODE_CACHE);
