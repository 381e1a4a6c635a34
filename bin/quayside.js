#!/usr/bin/env node
"use strict";
const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === "--version" || args[0] === "-V")) {
  // Nothing to load for the version: it is package.json's (the build checks that the CLI's is the
  // same). Written to fd 1 directly: process.stdout would load Node's stream and net modules.
  require("node:fs").writeSync(1, `${require("../package.json").version}\n`);
} else {
  const { main, abortOnSignals } = require("./load-cli.js").loadCli(args);
  // Ctrl-C / SIGTERM abort the running command, which cleans up and says what was interrupted.
  const controller = new AbortController();
  const removeHandlers = abortOnSignals(controller);
  // stdin only when read (--password-stdin): opening it costs a stream, for a file or /dev/null
  // Node's file streams and fs/promises.
  const io = { get stdin() { return process.stdin; }, stdout: process.stdout, stderr: process.stderr, env: process.env, signal: controller.signal };
  // A reader that went away (`quayside tags REPO | head -1`) is the end of the output, not an error.
  process.stdout.on("error", (err) => {
    if (err.code !== "EPIPE") throw err;
    process.exit(process.exitCode ?? 0);
  });
  main(args, io).then((code) => {
    process.exitCode = code;
    removeHandlers();
  });
}
