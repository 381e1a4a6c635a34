#!/usr/bin/env node
// `npm run registry`: builds what is missing, then starts a throwaway local registry until Ctrl-C
// (build/scripts/registry.js; see scripts/registry.ts).
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ensureBuilt, ensureSystemTools, ROOT, SYSTEM_TOOLS } from "./lib/bootstrap.mjs";

ensureBuilt();
ensureSystemTools(SYSTEM_TOOLS.filter((t) => t.bin === "docker-registry"));
const { runRegistry } = await import(pathToFileURL(join(ROOT, "build", "scripts", "registry.js")).href);
process.exitCode = await runRegistry(process.argv.slice(2));
