#!/usr/bin/env node
// `npm run demo`: installs what is missing, builds, then runs build/scripts/demo.js, which starts a
// throwaway local registry, pushes a small multi-arch image into it and reads it back with quayside.
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ensureBuilt, ensureSystemTools, ROOT } from "./lib/bootstrap.mjs";

ensureBuilt();
ensureSystemTools();
const { runDemo } = await import(pathToFileURL(join(ROOT, "build", "scripts", "demo.js")).href);
process.exitCode = await runDemo();
