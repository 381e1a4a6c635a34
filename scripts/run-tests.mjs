#!/usr/bin/env node
// Test entry point (run after `tsc -p tsconfig.json`):
//   node scripts/run-tests.mjs [unit|integration|all] [NAME...]
// NAME keeps only the test files whose name contains it (`integration quay alias`).
// For integration tests it makes sure docker-registry, skopeo, htpasswd and openssl exist,
// starts the shared environment once (real registries on loopback), hands its JSON to the
// test processes through QUAYSIDE_TEST_ENV, and always tears it down.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ensureSystemTools, ROOT, TEST_TOOLS } from "./lib/bootstrap.mjs";

const BUILD = join(ROOT, "build");
const RUN_LIMIT_MS = 30 * 60 * 1000;

const suite = process.argv[2] ?? "all";
const names = process.argv.slice(3);
if (!["unit", "integration", "all"].includes(suite)) {
  console.error(`usage: node scripts/run-tests.mjs [unit|integration|all] [NAME...]  (got ${suite})`);
  process.exit(2);
}

function testFiles(kind) {
  const dir = join(BUILD, "test", kind);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => name.endsWith(".test.js") && (names.length === 0 || names.some((part) => name.includes(part))))
    .sort()
    .map((name) => join(dir, name));
}

const unit = suite === "integration" ? [] : testFiles("unit");
const integration = suite === "unit" ? [] : testFiles("integration");
const files = [...unit, ...integration];
if (files.length === 0) {
  console.error(`no ${suite} test files${names.length > 0 ? ` matching ${names.join(", ")}` : ""} under ${join(BUILD, "test")}: run  npx tsc -p tsconfig.json  first`);
  process.exit(1);
}

let environment; // { env, stop } once started
let envDir;
let child;
let stopping;

async function teardown() {
  stopping ??= (async () => {
    if (environment) await environment.stop();
    if (envDir) rmSync(envDir, { recursive: true, force: true });
  })();
  return stopping;
}

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    console.error(`\n${signal}: stopping tests and registries`);
    if (child && child.exitCode === null) child.kill(signal);
    void teardown().finally(() => process.exit(signal === "SIGINT" ? 130 : 143));
  });
}

const env = { ...process.env };
// Unit tests need python3 only; integration tests the registry, skopeo and the rest too.
if (integration.length === 0) ensureSystemTools(TEST_TOOLS.filter((tool) => tool.bin === "python3"));
if (integration.length > 0) {
  ensureSystemTools(TEST_TOOLS);
  const started = Date.now();
  const harness = pathToFileURL(join(BUILD, "test", "harness", "environment.js")).href;
  const { startTestEnvironment } = await import(harness);
  environment = await startTestEnvironment();
  envDir = mkdtempSync(join(tmpdir(), "quayside-env-"));
  const envFile = join(envDir, "environment.json");
  writeFileSync(envFile, JSON.stringify(environment.env, null, 2));
  env.QUAYSIDE_TEST_ENV = envFile;
  console.log(`test environment ready in ${((Date.now() - started) / 1000).toFixed(1)} s (${envFile})`);
}

// One line per file, failures in full, a summary line last; QUAYSIDE_TEST_REPORTER=spec (or tap) for every test.
const reporter = process.env.QUAYSIDE_TEST_REPORTER ?? join(ROOT, "scripts", "test-reporter.mjs");
const args = ["--test", "--test-concurrency=2", "--enable-source-maps", `--test-reporter=${reporter}`, ...files];
const code = await new Promise((resolveCode) => {
  child = spawn(process.execPath, args, { stdio: "inherit", env, cwd: ROOT });
  const limit = setTimeout(() => {
    console.error(`tests still running after ${RUN_LIMIT_MS / 60000} min: killing them`);
    child.kill("SIGKILL");
  }, RUN_LIMIT_MS);
  child.on("error", (error) => {
    console.error(error);
    resolveCode(1);
  });
  child.on("exit", (status, signal) => {
    clearTimeout(limit);
    resolveCode(status ?? (signal ? 1 : 0));
  });
});
await teardown().catch((error) => console.error("teardown failed:", error));
process.exit(code);
