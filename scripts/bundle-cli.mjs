// Bundles the compiled CLI (dist/cli/main.js and everything it imports) into one CommonJS file,
// dist/cli.cjs, and writes V8's code cache for it (dist/cli.cjs.cache) that bin/load-cli.js
// loads it with. One file loads about twice as fast as ~200 modules, and the cache spares the
// compile: start-up is most of a short command's time.
import { build } from "esbuild";
import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const shim = (name) => join(root, "scripts", "bundle-shims", name);
// The ESM bundle of earlier builds.
rmSync(join(root, "dist", "cli.js"), { force: true });
rmSync(join(root, "dist", "cli.js.map"), { force: true });
rmSync(join(root, "dist", "cli.cjs.map"), { force: true });
await build({
  entryPoints: [join(root, "dist", "cli", "main.js")],
  outfile: join(root, "dist", "cli.cjs"),
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  // `import()` of a Node built-in becomes require(): a vm.Script has no module loader.
  supported: { "dynamic-import": false },
  // No map: the package ships no sources for one to point at (and it weighed 1.7 MB).
  sourcemap: false,
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

const written = spawnSync(process.execPath, [join(root, "scripts", "write-code-cache.mjs")], { stdio: "inherit" });
if (written.status !== 0) process.exit(written.status ?? 1);
