// Bundles the compiled CLI (dist/cli/main.js and everything it imports) into one CommonJS file,
// dist/cli.cjs, and writes V8's code cache for it (dist/cli.cjs.cache) that bin/load-cli.js
// loads it with. One file loads about twice as fast as ~200 modules, and the cache spares the
// compile: start-up is most of a short command's time. On a machine where every page of memory
// a process touches costs (a VM), the size of what is read matters as much: the bundle is
// minified (whitespace and syntax; names are kept, error names come from class names), ASCII,
// and already wrapped in the CommonJS function, so that bin/load-cli.js compiles the file's own
// string instead of a 1 MB copy of it.
import { build } from "esbuild";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const shim = (name) => join(root, "scripts", "bundle-shims", name);
// The ESM bundle of earlier builds.
rmSync(join(root, "dist", "cli.js"), { force: true });
rmSync(join(root, "dist", "cli.js.map"), { force: true });
rmSync(join(root, "dist", "cli.cjs.map"), { force: true });
const ownCode = join(root, "dist") + sep;
const WRAPPER_START = "(function (exports, require, module, __filename, __dirname) {";
const WRAPPER_END = "})";

// What quayside's own modules import from these is loaded when first used, not when the bundle
// loads: a command then pays only for what it touches (`--help` never loads the HTTP stack or
// TLS, `digest` never loads tar or progress bars). Built-ins Node has loaded before any user code
// (fs, path, events, util...) are not worth it, nor node:stream, which writing to stdout loads.
const LAZY = new Set(["undici", "cli-progress", "tar-stream", "node:crypto", "node:fs/promises", "node:net", "node:os", "node:stream/promises", "node:timers/promises", "node:tls"]);
const requireForBuild = createRequire(join(root, "package.json"));

/** The names quayside's compiled modules import from each module (tsc keeps the import statements as written). */
function importedNames() {
  const names = new Map();
  const add = (specifier, name) => names.set(specifier, new Set([...(names.get(specifier) ?? []), name]));
  for (const file of readdirSync(join(root, "dist"), { recursive: true })) {
    if (!file.endsWith(".js")) continue;
    const text = readFileSync(join(root, "dist", file), "utf8");
    for (const [, clause, specifier] of text.matchAll(/^import\s+([^;]*?)\s+from\s+"([^"]+)";/gms)) {
      if (!LAZY.has(specifier)) continue;
      const named = /\{([^}]*)\}/.exec(clause);
      // `import * as x` (or a default import): every property of the real module.
      if (!named || /^\s*(\*|[\w$]+\s*(,|$))/.test(clause)) add(specifier, "*");
      for (const part of named?.[1].split(",") ?? []) {
        const name = part.trim().replace(/^type\s+/, "").split(/\s+as\s+/)[0];
        if (name && !part.trim().startsWith("type ")) add(specifier, name);
      }
    }
  }
  return names;
}

/**
 * A stand-in module whose properties load the real one on first access. The CLI's modules are
 * ES modules, and esbuild reads an imported binding at the moment it is used (`tls.connect(...)`),
 * so the load happens then; a binding used while a module initializes loads it then, as before.
 * It has just the names quayside imports: esbuild copies them into a namespace object for every
 * importing module, and Node's modules have dozens.
 */
function lazyModule(specifier, names) {
  const real = specifier === "undici" ? shim("undici-slim.cjs") : specifier;
  const all = names.has("*") ? Object.keys(requireForBuild(real)).filter((name) => /^[A-Za-z_$][\w$]*$/.test(name)) : [];
  const getters = [...new Set([...names, ...all])].filter((name) => name !== "*" && name !== "default").map((name) => `  get ${name}() { return load().${name}; },`);
  return [`"use strict";`, `let loaded;`, `const load = () => (loaded ??= require(${JSON.stringify(specifier)}));`, `module.exports = {\n${getters.join("\n")}\n};`].join("\n");
}

const imported = importedNames();

/** How undici compiles its parser with SIMD (the CLI bundle replaces it: see the shim llhttp-simd-module.cjs). */
const SIMD_PARSER_COMPILE = "new WebAssembly.Module(require('../llhttp/llhttp_simd-wasm.js'))";
/** That parser's bytes, for bin/load-cli.js to compile in the background. */
const SIMD_PARSER = join(root, "dist", "llhttp_simd.wasm");
writeFileSync(SIMD_PARSER, requireForBuild("undici/lib/llhttp/llhttp_simd-wasm.js"));

/** What both bundles share: CommonJS for a vm.Script, minified, ASCII, wrapped, the shims. */
const common = {
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  // `import()` of a Node built-in becomes require(): a vm.Script has no module loader.
  supported: { "dynamic-import": false },
  // No map: the package ships no sources for one to point at (and it weighed 1.7 MB).
  sourcemap: false,
  minifyWhitespace: true,
  minifySyntax: true,
  // Licence comments, if any, go to a .LEGAL.txt beside the bundle: bin/load-cli.js reads a bundle
  // as latin1 (one byte a character, as V8 keeps it), which needs ASCII, and they need not be.
  legalComments: "linked",
  charset: "ascii",
  // The CommonJS wrapper, as Node's own loader puts around a module (bin/load-cli.js calls it).
  banner: { js: WRAPPER_START },
  footer: { js: WRAPPER_END },
  logLevel: "warning",
  metafile: true,
};

const plugins = [
  {
    name: "lazy-imports",
    setup(esbuild) {
      esbuild.onResolve({ filter: /^(node:.*|undici|cli-progress|tar-stream)$/ }, (args) =>
        args.kind === "import-statement" && args.importer.startsWith(ownCode) && LAZY.has(args.path) ? { path: args.path, namespace: "lazy" } : undefined,
      );
      esbuild.onLoad({ filter: /.*/, namespace: "lazy" }, (args) => {
        const names = imported.get(args.path);
        if (!names) throw new Error(`no import of ${args.path} found in dist/`);
        return { contents: lazyModule(args.path, names), loader: "js", resolveDir: root };
      });
    },
  },
  {
    name: "cli-shims",
    setup(esbuild) {
      // Only Agent and the request API of undici (see the shim).
      esbuild.onResolve({ filter: /^undici$/ }, () => ({ path: shim("undici-slim.cjs") }));
      // undici's HTTP/2 client (and node:http2, which it loads up front): the CLI never enables HTTP/2.
      esbuild.onResolve({ filter: /^\.\/client-h2\.js$/ }, (args) =>
        args.importer.endsWith(join("node_modules", "undici", "lib", "dispatcher", "client.js")) ? { path: shim("client-h2-absent.cjs") } : undefined,
      );
      // undici's FormData bodies (fetch's body code), and its parser for a WebAssembly without SIMD,
      // which is loaded from the installed undici when needed (see the shims).
      const clientH1 = join("node_modules", "undici", "lib", "dispatcher", "client-h1.js");
      esbuild.onResolve({ filter: /^\.\.\/web\/fetch\/body\.js$/ }, (args) => (args.importer.endsWith(clientH1) ? { path: shim("fetch-body-absent.cjs") } : undefined));
      esbuild.onResolve({ filter: /^\.\.\/llhttp\/llhttp-wasm\.js$/ }, (args) => (args.importer.endsWith(clientH1) ? { path: shim("llhttp-wasm-package.cjs") } : undefined));
      // undici's parser with SIMD: the module bin/load-cli.js compiles in the background from
      // dist/llhttp_simd.wasm (see the shim) instead of undici's synchronous compile of the 72 KB of
      // base64 it would carry in the bundle.
      esbuild.onLoad({ filter: /[\\/]undici[\\/]lib[\\/]dispatcher[\\/]client-h1\.js$/ }, (args) => {
        const source = readFileSync(args.path, "utf8");
        const parts = source.split(SIMD_PARSER_COMPILE);
        if (parts.length !== 2) throw new Error(`${args.path}: expected undici to compile its SIMD parser once as \`${SIMD_PARSER_COMPILE}\`; found ${parts.length - 1}`);
        return { contents: parts.join(`require(${JSON.stringify(shim("llhttp-simd-module.cjs"))})()`), loader: "js", resolveDir: dirname(args.path) };
      });
      esbuild.onResolve({ filter: /^quayside-cli:http-parser$/ }, (args) => ({ path: args.path, external: true }));
      esbuild.onResolve({ filter: /^undici\/lib\/llhttp\/llhttp-wasm\.js$/ }, (args) => (args.importer === shim("llhttp-wasm-package.cjs") ? { path: args.path, external: true } : undefined));
      // undici calls node:assert as a function only, and loads node:http for two values (see the shims).
      esbuild.onResolve({ filter: /^node:(assert|http)$/ }, (args) =>
        args.importer.includes(`${join("node_modules", "undici")}`) ? { path: shim(args.path === "node:assert" ? "assert-lazy.cjs" : "http-lazy.cjs") } : undefined,
      );
      // commander loads node:child_process up front for executable subcommands; quayside has none.
      esbuild.onResolve({ filter: /^node:child_process$/ }, (args) => (args.importer.includes(`${join("node_modules", "commander")}`) ? { path: shim("child-process-lazy.cjs") } : undefined));
    },
  },
];

// Two bundles, each with its own code cache. dist/cli.cjs: the command line itself (commander,
// the command table, the output, what loads the rest), all --help and a usage error need.
// dist/cli-lib.cjs: the library and the command modules, which the first one's `import()`s of
// them load (bin/load-cli.js hands it to the first one as `require("quayside-cli-lib:NAME")`).
// Every command module goes there: a new one needs no entry here (its name, made an identifier, is its key).
const COMMANDS = join(root, "dist", "cli", "commands");
const LIB_MODULES = Object.fromEntries([
  ["index", join(root, "dist", "index.js")],
  ...readdirSync(COMMANDS)
    .filter((name) => name.endsWith(".js"))
    .map((name) => [`command_${name.slice(0, -3).replace(/[^A-Za-z0-9]/g, "_")}`, join(COMMANDS, name)]),
]);
const libPath = (importer, path) => Object.entries(LIB_MODULES).find(([, file]) => file === resolve(dirname(importer), path))?.[0];
const outputs = ["cli.cjs", "cli-lib.cjs"].map((name) => join(root, "dist", name));
for (const file of outputs) {
  // The code cache of the bundle this build replaces must not outlive it (scripts/write-code-cache.mjs),
  // nor its licence file (esbuild writes one only when there are licence comments).
  rmSync(`${file}.cache`, { force: true });
  rmSync(`${file}.LEGAL.txt`, { force: true });
}
const entry = await build({
  ...common,
  entryPoints: [join(root, "dist", "cli", "main.js")],
  outfile: outputs[0],
  plugins: [
    {
      name: "library-in-its-own-bundle",
      setup(esbuild) {
        esbuild.onResolve({ filter: /\.js$/ }, (args) => {
          const name = args.importer.startsWith(ownCode) ? libPath(args.importer, args.path) : undefined;
          if (name === undefined) return undefined;
          if (args.kind !== "dynamic-import") throw new Error(`${args.importer} imports ${args.path} statically: the library would load with the command line`);
          return { path: `quayside-cli-lib:${name}`, external: true };
        });
      },
    },
    ...plugins,
  ],
});
const library = await build({
  ...common,
  stdin: { contents: Object.entries(LIB_MODULES).map(([name, file]) => `export * as ${name} from ${JSON.stringify(file)};`).join("\n"), resolveDir: root, sourcefile: "cli-lib.js" },
  outfile: outputs[1],
  plugins,
});

// The command line's bundle must hold nothing of the library.
const leaked = Object.keys(entry.metafile.inputs).filter((input) => /^(dist\/(index|registry|http|store|ops)|.*node_modules\/undici)/.test(input));
if (leaked.length > 0) throw new Error(`dist/cli.cjs holds library code: ${leaked.join(", ")}`);
void library;
for (const file of outputs) {
  const bundle = readFileSync(file);
  const nonAscii = bundle.findIndex((byte) => byte > 0x7f);
  if (nonAscii >= 0) throw new Error(`${file} is not ASCII at byte ${nonAscii}: ${JSON.stringify(bundle.subarray(Math.max(0, nonAscii - 40), nonAscii + 10).toString("utf8"))}`);
  if (!bundle.toString("latin1").startsWith(WRAPPER_START)) throw new Error(`${file} does not start with the CommonJS wrapper`);
}

const written = spawnSync(process.execPath, [join(root, "scripts", "write-code-cache.mjs")], { stdio: "inherit" });
if (written.status !== 0) process.exit(written.status ?? 1);
