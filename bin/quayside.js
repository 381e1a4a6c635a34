#!/usr/bin/env node
import { loadCli } from "./load-cli.js";

const { main } = loadCli();
process.exitCode = await main(process.argv.slice(2), {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
});
