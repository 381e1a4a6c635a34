/**
 * The module graph of src/ keeps the shape /work/shared/DESIGN.md gives it: no import cycles
 * (type-only imports included), data flowing down the layers, and a CLI that reaches the library
 * only through src/index.ts. Imports are read with the TypeScript parser, so `import type`,
 * `export ... from`, `import("...")` and `typeof import("...")` all count.
 */
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

// Compiled to build/test/unit/, so the repository root is three directories up.
const srcRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "src");

/**
 * DESIGN.md's layers, top first. A file may import its own layer (sideways) or any layer below
 * it, never one above. A directory ends in "/"; a file is named whole. quay/ (the Quay REST client
 * and discovery) sits under ops/ and over everything it may use.
 */
const LAYERS: readonly (readonly string[])[] = [
  ["cli/"],
  ["index.ts"],
  ["ops/"],
  ["quay/"],
  ["image/"],
  ["copy/"],
  ["store/"],
  ["registry/"],
  ["auth/"],
  ["http/"],
  ["ref/", "digest/", "media/"],
  ["util/"],
  ["errors.ts"],
];


interface ModuleGraph {
  /** Every source file (relative to src/, "/"-separated) and the src files it imports, in order. */
  imports: Map<string, string[]>;
  /** Imports the checker could not follow: non-literal import(), or a path that is not a src file. */
  problems: string[];
}

function sourceFiles(): string[] {
  return readdirSync(srcRoot, { recursive: true, encoding: "utf8" })
    .map((name) => name.split(path.sep).join("/"))
    .filter((name) => name.endsWith(".ts") && !name.endsWith(".d.ts"))
    .sort();
}

/** Module specifiers of every import form in one file; undefined for an import() the parser cannot read. */
function specifiersOf(file: string, text: string): (string | undefined)[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found: (string | undefined)[] = [];
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier !== undefined) {
      found.push(ts.isStringLiteral(node.moduleSpecifier) ? node.moduleSpecifier.text : undefined);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const argument = node.arguments[0];
      found.push(argument !== undefined && ts.isStringLiteralLike(argument) ? argument.text : undefined);
    } else if (ts.isImportTypeNode(node)) {
      const argument = node.argument;
      found.push(ts.isLiteralTypeNode(argument) && ts.isStringLiteral(argument.literal) ? argument.literal.text : undefined);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      const expression = node.moduleReference.expression;
      found.push(ts.isStringLiteral(expression) ? expression.text : undefined);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

function moduleGraph(): ModuleGraph {
  const files = sourceFiles();
  const known = new Set(files);
  const imports = new Map<string, string[]>();
  const problems: string[] = [];
  for (const file of files) {
    const targets: string[] = [];
    for (const specifier of specifiersOf(file, readFileSync(path.join(srcRoot, file), "utf8"))) {
      if (specifier === undefined) {
        problems.push(`${file}: an import whose module is not a string literal cannot be checked`);
        continue;
      }
      // Packages and node: builtins are outside the graph.
      if (!specifier.startsWith(".")) continue;
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), specifier)).replace(/\.js$/, ".ts");
      if (!known.has(target)) problems.push(`${file}: imports ${specifier}, which is not a file of src/`);
      else if (!targets.includes(target)) targets.push(target);
    }
    imports.set(file, targets);
  }
  return { imports, problems };
}

/** Every cycle closed by a back edge of a depth-first walk, as a path a -> b -> ... -> a. */
function findCycles(imports: ReadonlyMap<string, readonly string[]>): string[][] {
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const cycles: string[][] = [];
  const walk = (file: string): void => {
    state.set(file, "open");
    stack.push(file);
    for (const target of imports.get(file) ?? []) {
      const seen = state.get(target);
      if (seen === "open") cycles.push([...stack.slice(stack.indexOf(target)), target]);
      else if (seen === undefined) walk(target);
    }
    stack.pop();
    state.set(file, "done");
  };
  for (const file of imports.keys()) if (!state.has(file)) walk(file);
  return cycles;
}

function layerOf(file: string): number {
  return LAYERS.findIndex((layer) => layer.some((entry) => (entry.endsWith("/") ? file.startsWith(entry) : file === entry)));
}

describe("src/ module graph", () => {
  const graph = moduleGraph();

  it("reads every import of every src file", () => {
    assert.ok(graph.imports.size > 0, `no .ts files under ${srcRoot}`);
    assert.deepEqual(graph.problems, []);
  });

  it("has no import cycles (type-only imports included)", () => {
    const cycles = findCycles(graph.imports).map((cycle) => cycle.join(" -> "));
    assert.deepEqual(cycles, [], `import cycles in src/:\n  ${cycles.join("\n  ")}`);
  });

  it("imports only down or sideways in DESIGN.md's layers", () => {
    const violations: string[] = [];
    for (const [file, targets] of graph.imports) {
      const layer = layerOf(file);
      if (layer < 0) {
        violations.push(`${file} is in no layer: add its directory to LAYERS`);
        continue;
      }
      for (const target of targets) {
        const targetLayer = layerOf(target);
        if (targetLayer >= 0 && targetLayer < layer) violations.push(`${file} -> ${target} (imports up: ${LAYERS[targetLayer]?.join(" ")} is above ${LAYERS[layer]?.join(" ")})`);
      }
    }
    assert.deepEqual(violations, [], `layering broken:\n  ${violations.join("\n  ")}`);
  });

  it("lets src/cli/ reach the library only through src/index.ts ", () => {
    const internal: string[] = [];
    for (const [file, targets] of graph.imports) {
      if (!file.startsWith("cli/")) continue;
      for (const target of targets) if (!target.startsWith("cli/") && target !== "index.ts") internal.push(`${file} -> ${target}`);
    }
    // Whatever the CLI does, a library user can do with the same call.
    assert.deepEqual(internal, [], `the CLI imports library internals; import them from src/index.ts (export them there if missing):\n  ${internal.join("\n  ")}`);
  });
});
