/** What `npm pack` ships: the built library and CLI, a LICENSE, no source maps (the sources are not shipped). */
import * as assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

test("the package ships dist, bin and a LICENSE, and no map pointing at sources it does not ship", async () => {
  const { stdout } = await promisify(execFile)("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: root, maxBuffer: 16 * 1024 * 1024 });
  const [packed] = JSON.parse(stdout) as [{ files: { path: string }[] }];
  const files = packed.files.map((f) => f.path);
  for (const needed of ["LICENSE", "README.md", "package.json", "bin/quayside.js", "bin/load-cli.js", "dist/index.js", "dist/index.d.ts", "dist/cli.cjs", "dist/cli-lib.cjs", "dist/llhttp_simd.wasm"]) {
    assert.ok(files.includes(needed), `${needed} is not in the package`);
  }
  assert.deepEqual(files.filter((f) => f.endsWith(".map")), []);
  assert.deepEqual(files.filter((f) => f.startsWith("src/") || f.startsWith("test/")), []);
  const referencing: string[] = [];
  for (const file of files.filter((f) => f.endsWith(".js") || f.endsWith(".cjs") || f.endsWith(".d.ts"))) {
    if ((await readFile(join(root, file), "utf8")).includes("sourceMappingURL=")) referencing.push(file);
  }
  assert.deepEqual(referencing, []);
  const license = await readFile(join(root, "LICENSE"), "utf8");
  const pkg = JSON.parse(await readFile(join(root, "package.json"), "utf8")) as { license: string };
  assert.match(license, new RegExp(`^${pkg.license} License`));
});
