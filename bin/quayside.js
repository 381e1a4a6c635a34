#!/usr/bin/env node
import { loadCli } from "./load-cli.js";

const { main, abortOnSignals } = loadCli();
// Ctrl-C / SIGTERM abort the running command, which cleans up and says what was interrupted.
const controller = new AbortController();
const removeHandlers = abortOnSignals(controller);
process.exitCode = await main(process.argv.slice(2), {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  signal: controller.signal,
});
removeHandlers();
