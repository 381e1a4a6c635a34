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
import { readFileSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const shim = (name) => join(root, "scripts", "bundle-shims", name);
const WRAPPER_START = "(function (exports, require, module, __filename, __dirname) {";
const WRAPPER_END = "})";
// The ESM bundle of earlier builds.
rmSync(join(root, "dist", "cli.js"), { force: true });
rmSync(join(root, "dist", "cli.js.map"), { force: true });
// The code cache of the bundle this build replaces must not outlive it (scripts/write-code-cache.mjs).
rmSync(join(root, "dist", "cli.cjs.cache"), { force: true });
await build({
  entryPoints: [join(root, "dist", "cli", "main.js")],
  outfile: join(root, "dist", "cli.cjs"),
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  // `import()` of a Node built-in becomes require(): a vm.Script has no module loader.
  supported: { "dynamic-import": false },
  sourcemap: true,
  minifyWhitespace: true,
  minifySyntax: true,
  // Licence comments go to dist/cli.cjs.LEGAL.txt: one of them is not ASCII, and bin/load-cli.js
  // reads the bundle as latin1 (one byte a character, as V8 keeps it), which needs ASCII.
  legalComments: "linked",
  charset: "ascii",
  // The CommonJS wrapper, as Node's own loader puts around a module (bin/load-cli.js calls it).
  banner: { js: WRAPPER_START },
  footer: { js: WRAPPER_END },
  logLevel: "warning",
  plugins: [
    {
      name: "cli-shims",
      setup(esbuild) {
        // Only Agent and the request API of undici (see the shim).
        esbuild.onResolve({ filter: /^undici$/ }, () => ({ path: shim("undici-slim.cjs") }));
        // undici's HTTP/2 client loads node:http2 up front; the CLI never enables HTTP/2.
        esbuild.onResolve({ filter: /^node:http2$/ }, (args) => (args.importer.includes(`${join("node_modules", "undici")}`) ? { path: shim("http2-absent.cjs") } : undefined));
        // commander loads node:child_process up front for executable subcommands; quayside has none.
        esbuild.onResolve({ filter: /^node:child_process$/ }, (args) => (args.importer.includes(`${join("node_modules", "commander")}`) ? { path: shim("child-process-lazy.cjs") } : undefined));
      },
    },
  ],
});

const bundle = readFileSync(join(root, "dist", "cli.cjs"));
const nonAscii = bundle.findIndex((byte) => byte > 0x7f);
if (nonAscii >= 0) throw new Error(`dist/cli.cjs is not ASCII at byte ${nonAscii}: ${JSON.stringify(bundle.subarray(Math.max(0, nonAscii - 40), nonAscii + 10).toString("utf8"))}`);
if (!bundle.toString("latin1").startsWith(WRAPPER_START)) throw new Error("dist/cli.cjs does not start with the CommonJS wrapper");

const written = spawnSync(process.execPath, [join(root, "scripts", "write-code-cache.mjs")], { stdio: "inherit" });
if (written.status !== 0) process.exit(written.status ?? 1);
