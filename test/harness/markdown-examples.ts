/**
 * Runs the code examples of the project's Markdown documents as a reader would: the text is
 * taken from the document itself (never a second copy), placeholders such as localhost:5000
 * are replaced by the test registries, and each block runs in a process of its own.
 *
 * - ```ts blocks: TypeScript, turned into JavaScript by esbuild (types stripped, nothing
 *   checked) and run by Node as an ES module; `from "quayside"` is the built package (dist/).
 *   Assertions live in the example (`assert.equal(...)`); a throw or a non-zero exit fails it.
 * - ```sh blocks: run by bash with `set -euo pipefail`, with `quayside` on PATH (bin/quayside.js).
 *   A comment `# prints: TEXT` says that a line of the block's stdout is TEXT; `...` in TEXT
 *   stands for any characters. The expected lines must appear in that order.
 */
import { execFile } from "node:child_process";
import { chmod, mkdir, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { transform } from "esbuild";

/** The repository's root (this file runs from build/test/harness/). */
export const REPOSITORY_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

export interface CodeBlock {
  /** The info string's first word: "ts", "sh", "python", ... */
  lang: string;
  /** The code between the fences, without the fence lines' indentation. */
  code: string;
  /** 1-based line of the opening fence. */
  line: number;
  /** The text of the nearest heading above the block ("## python-dxf"). */
  heading: string;
}

const FENCE = /^( {0,3})(`{3,}|~{3,})\s*([^`\s]*)?.*$/;
const HEADING = /^#{1,6}\s+(.*?)\s*#*\s*$/;

/** Every fenced code block of a Markdown text, in order, with the heading it sits under. */
export function codeBlocks(markdown: string): CodeBlock[] {
  const blocks: CodeBlock[] = [];
  const lines = markdown.split("\n");
  let heading = "";
  let open: { fence: string; indent: number; lang: string; line: number; body: string[] } | undefined;
  for (const [index, text] of lines.entries()) {
    if (open !== undefined) {
      const trimmed = text.trimStart();
      if (trimmed.startsWith(open.fence) && trimmed.slice(open.fence.length).trim() === "" && text.length - trimmed.length <= 3) {
        blocks.push({ lang: open.lang, code: open.body.join("\n") + (open.body.length > 0 ? "\n" : ""), line: open.line, heading });
        open = undefined;
      } else {
        open.body.push(text.slice(Math.min(open.indent, text.length - text.trimStart().length)));
      }
      continue;
    }
    const fence = FENCE.exec(text);
    if (fence) {
      open = { fence: fence[2] ?? "```", indent: (fence[1] ?? "").length, lang: fence[3] ?? "", line: index + 1, body: [] };
      continue;
    }
    const title = HEADING.exec(text);
    if (title) heading = text.trim();
  }
  if (open !== undefined) throw new Error(`unclosed code fence opened at line ${open.line}`);
  return blocks;
}

/** Replace each placeholder by its value, longest placeholder first (so "https://h" wins over "h"). */
export function substitute(code: string, replacements: Readonly<Record<string, string>>): string {
  const keys = Object.keys(replacements).sort((a, b) => b.length - a.length);
  if (keys.length === 0) return code;
  const pattern = new RegExp(keys.map((k) => k.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|"), "g");
  return code.replace(pattern, (match) => replacements[match] ?? match);
}

export interface ExampleRun {
  stdout: string;
  stderr: string;
}

export interface ExampleEnvironment {
  /** The directory the example runs in (its relative paths land there). */
  cwd: string;
  /** The process environment of the example (PATH is extended with the quayside command). */
  env: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

function execute(command: string, args: readonly string[], where: ExampleEnvironment): Promise<ExampleRun> {
  return new Promise((resolvePromise, reject) => {
    execFile(
      command,
      args,
      { cwd: where.cwd, env: where.env, timeout: where.timeoutMs ?? 60_000, maxBuffer: 16 * 1024 * 1024, encoding: "utf8" },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`the example failed (${error.code ?? error.signal ?? "error"}):\n--- stdout\n${stdout}--- stderr\n${stderr}`, { cause: error }));
        else resolvePromise({ stdout, stderr });
      },
    );
  });
}

let exampleCounter = 0;

/** A ```ts block as an ES module: "quayside" is the built package; the module's stdout is returned. */
export async function runTsExample(code: string, where: ExampleEnvironment): Promise<ExampleRun> {
  const packageUrl = pathToFileURL(join(REPOSITORY_ROOT, "dist", "index.js")).href;
  const { code: js } = await transform(code, { loader: "ts", format: "esm", target: "node20" });
  const module = js.replace(/(from\s+|import\s*\(\s*)(["'])quayside\2/g, (_m, lead: string) => `${lead}${JSON.stringify(packageUrl)}`);
  const file = join(where.cwd, `example-${process.pid}-${++exampleCounter}.mjs`);
  await writeFile(file, module);
  return execute(process.execPath, [file], where);
}

/** A directory holding a `quayside` command that runs the built CLI (for PATH). */
export async function quaysideBinDir(parent: string): Promise<string> {
  const dir = join(parent, "bin");
  await mkdir(dir, { recursive: true });
  const command = join(dir, "quayside");
  await writeFile(command, `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(join(REPOSITORY_ROOT, "bin", "quayside.js"))} "$@"\n`);
  await chmod(command, 0o755);
  return dir;
}

/** The `# prints: TEXT` lines of a ```sh block, in order. */
export function expectedLines(code: string): string[] {
  return [...code.matchAll(/#\s*prints:\s?(.*)$/gm)].map((m) => (m[1] ?? "").trimEnd());
}

/** TEXT of `# prints: TEXT` as a whole-line pattern: `...` is any characters, the rest literal. */
export function linePattern(expected: string): RegExp {
  return new RegExp(`^${expected.split("...").map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`);
}

/**
 * Which expected lines the output lacks, in order: each must match a later line than the one
 * before it. Empty when all are there.
 */
export function missingLines(stdout: string, expected: readonly string[]): string[] {
  const lines = stdout.split("\n").map((l) => l.trimEnd());
  const missing: string[] = [];
  let from = 0;
  for (const text of expected) {
    const pattern = linePattern(text);
    const at = lines.findIndex((line, i) => i >= from && pattern.test(line));
    if (at < 0) missing.push(text);
    else from = at + 1;
  }
  return missing;
}

/** A ```sh block under bash -euo pipefail; its `# prints:` lines are checked by the caller (missingLines). */
export async function runShExample(code: string, where: ExampleEnvironment): Promise<ExampleRun> {
  const file = join(where.cwd, `example-${process.pid}-${++exampleCounter}.sh`);
  await writeFile(file, `set -euo pipefail\n${code}`);
  return execute("bash", [file], where);
}
