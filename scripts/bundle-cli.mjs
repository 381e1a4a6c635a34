// Bundles the compiled CLI (dist/cli/main.js and everything it imports) into dist/cli.js.
// One file loads about twice as fast as ~200 modules: start-up is most of a short command's time.
import { build } from "esbuild";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
await build({
  entryPoints: [join(root, "dist", "cli", "main.js")],
  outfile: join(root, "dist", "cli.js"),
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  sourcemap: true,
  logLevel: "warning",
  // undici and friends are CommonJS: give the bundle a real require for Node's built-ins.
  plugins: [
    {
      name: "undici-slim",
      setup(esbuild) {
        esbuild.onResolve({ filter: /^undici$/ }, () => ({ path: join(root, "scripts", "undici-slim.cjs") }));
      },
    },
  ],
  banner: { js: 'import { createRequire as __quaysideCreateRequire } from "node:module"; const require = __quaysideCreateRequire(import.meta.url);' },
});
