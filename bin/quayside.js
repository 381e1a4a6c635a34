#!/usr/bin/env node
import { setFlagsFromString } from "node:v8";

// A CLI run is short: compile undici's WebAssembly HTTP parser with the baseline tier only.
// Otherwise V8's optimizing tier-up keeps the process alive 100-500 ms after the work is done.
setFlagsFromString("--liftoff-only");

const { main } = await import("../dist/cli.js");
process.exitCode = await main(process.argv.slice(2), {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
});
