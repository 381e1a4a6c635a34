// A concise reporter for node --test: one line per test file, every failure in full (name,
// location, error), and a closing summary line "tests: N passed, N failed, N skipped".
// (The default TAP output is ~2,500 lines for this suite.)
import { relative } from "node:path";
import { inspect } from "node:util";

const root = process.cwd();

export default async function* conciseReporter(source) {
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  const files = new Map(); // file -> { tests, failed, ms }
  const failures = [];
  const stack = []; // names of the suites and tests around the current event, by nesting
  const started = Date.now();

  for await (const event of source) {
    const { type, data } = event;
    if (type === "test:start") {
      stack[data.nesting] = data.name;
      stack.length = data.nesting + 1;
      continue;
    }
    if (type === "test:stderr" || type === "test:stdout") {
      // Output of a test file outside any test (a crash before the first test, say).
      if (data.message && !data.message.startsWith("TAP version")) failures.push({ title: `${data.file ? relative(root, data.file) : "?"} printed`, body: data.message.trimEnd() });
      continue;
    }
    if (type !== "test:pass" && type !== "test:fail") continue;
    const isSuite = data.details?.type === "suite";
    const file = data.file ? relative(root, data.file) : "(unknown file)";
    const entry = files.get(file) ?? { tests: 0, failed: 0, ms: 0 };
    files.set(file, entry);
    if (data.nesting === 0) entry.ms += data.details?.duration_ms ?? 0;
    if (isSuite) {
      // A suite fails when a test in it does, reported there; a hook failing reports here.
      const error = data.details?.error;
      if (type === "test:fail" && error && error.failureType !== "subtestsFailed") failures.push({ title: `${file}: ${data.name}`, body: describeError(error) });
      continue;
    }
    if (data.skip || data.todo) {
      skipped++;
      continue;
    }
    entry.tests++;
    if (type === "test:pass") {
      passed++;
      continue;
    }
    failed++;
    entry.failed++;
    const path = [...stack.slice(0, data.nesting), data.name].filter(Boolean).join(" > ");
    const where = data.line !== undefined ? `${file}:${data.line}` : file;
    failures.push({ title: `${path} (${where})`, body: describeError(data.details?.error) });
  }

  for (const [file, entry] of [...files].sort(([a], [b]) => a.localeCompare(b))) {
    yield `${entry.failed > 0 ? "FAIL" : "ok  "} ${file.replace(/^build\/test\//, "").replace(/\.test\.js$/, "")} (${entry.tests} tests, ${(entry.ms / 1000).toFixed(1)} s)\n`;
  }
  for (const failure of failures) yield `\n--- ${failure.title}\n${indent(failure.body)}\n`;
  yield `\n${((Date.now() - started) / 1000).toFixed(1)} s\n`;
  yield `tests: ${passed} passed, ${failed} failed, ${skipped} skipped\n`;
}

function describeError(error) {
  if (!error) return "(no error recorded)";
  const cause = error.cause ?? error;
  const text = cause instanceof Error ? (cause.stack ?? cause.message) : inspect(cause, { depth: 4 });
  // Node's own frames say nothing about the failure.
  return text.split("\n").filter((line) => !/\(node:|at node:|at async Promise\.all/.test(line)).slice(0, 40).join("\n");
}

function indent(text) {
  return text.split("\n").map((line) => `    ${line}`).join("\n");
}
