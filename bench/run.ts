/**
 * Runs the benchmarks: every one, or those named.
 *
 *   npm run bench                         # all
 *   npm run bench -- tags-token           # one
 *   npm run bench -- copy                 # copy speed (~230 MB image, several minutes)
 *   npm run bench -- startup              # one-shot command start-up vs bare node, skopeo, npm clients
 *   npm run bench -- quay                 # Quay discovery (1,000 repositories) and a mirror + re-run
 *   npm run bench -- tags-token --runs 9 --markdown
 *
 * Flags: --runs N (measured rounds), --no-build (use the existing dist/ for the CLI),
 * --markdown (also print result tables as Markdown), --cpu-prof (also profile one in-process
 * run, where a benchmark has one), --list, --help.
 */
import type { Benchmark, BenchOptions } from "./lib/benchmark.js";
import { errorMessage } from "./lib/measure.js";
import { copy } from "./copy.js";
import { quay } from "./quay.js";
import { startup } from "./startup.js";
import { tagsToken } from "./tags-token.js";

const BENCHMARKS: readonly Benchmark[] = [tagsToken, startup, copy, quay];

const USAGE = `usage: npm run bench -- [NAME ...] [--runs N] [--no-build] [--markdown] [--cpu-prof] [--list]
benchmarks:
${BENCHMARKS.map((b) => `  ${b.name.padEnd(12)} ${b.description}`).join("\n")}`;

interface Parsed {
  names: string[];
  options: BenchOptions;
  list: boolean;
}

function parse(argv: readonly string[]): Parsed {
  const names: string[] = [];
  const options: BenchOptions = { build: true, markdown: false, log: (line) => process.stdout.write(`${line}\n`) };
  let list = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    if (arg === "--runs" || arg.startsWith("--runs=")) {
      const value = arg.includes("=") ? arg.slice("--runs=".length) : argv[++i];
      const runs = Number(value);
      if (!Number.isSafeInteger(runs) || runs < 1 || runs > 100) throw new UsageError(`--runs needs a whole number from 1 to 100, not ${value ?? "nothing"}`);
      options.runs = runs;
    } else if (arg === "--no-build") options.build = false;
    else if (arg === "--markdown") options.markdown = true;
    else if (arg === "--cpu-prof") options.cpuProfile = true;
    else if (arg === "--list") list = true;
    else if (arg === "--help" || arg === "-h") throw new UsageError("", 0);
    else if (arg.startsWith("-")) throw new UsageError(`unknown flag ${arg}`);
    else names.push(arg);
  }
  return { names, options, list };
}

class UsageError extends Error {
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
  }
}

async function main(argv: readonly string[]): Promise<number> {
  let parsed: Parsed;
  try {
    parsed = parse(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    if (error.message) process.stderr.write(`bench: ${error.message}\n`);
    (error.exitCode === 0 ? process.stdout : process.stderr).write(`${USAGE}\n`);
    return error.exitCode;
  }
  if (parsed.list) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const unknown = parsed.names.filter((n) => !BENCHMARKS.some((b) => b.name === n));
  if (unknown.length > 0) {
    process.stderr.write(`bench: no benchmark named ${unknown.join(", ")}\n${USAGE}\n`);
    return 2;
  }
  const selected = parsed.names.length > 0 ? BENCHMARKS.filter((b) => parsed.names.includes(b.name)) : BENCHMARKS;
  let code = 0;
  for (const benchmark of selected) {
    parsed.options.log(`== ${benchmark.name}: ${benchmark.description}`);
    try {
      const outcome = await benchmark.run(parsed.options);
      if (!outcome.ok) {
        process.stderr.write(`bench: ${benchmark.name}: a goal was not met (see above)\n`);
        code = 1;
      }
    } catch (error) {
      process.stderr.write(`bench: ${benchmark.name} failed: ${errorMessage(error)}\n`);
      if (error instanceof Error && error.stack) process.stderr.write(`${error.stack.split("\n").slice(1, 6).join("\n")}\n`);
      code = 1;
    }
  }
  return code;
}

process.exitCode = await main(process.argv.slice(2));
