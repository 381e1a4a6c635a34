// What the demo and the test runner need before any TypeScript runs: npm packages, a build,
// and the Debian tools the real-server harness drives (docker-registry, skopeo, htpasswd, openssl, umoci; python3 for the tests).
import { spawnSync } from "node:child_process";
import { accessSync, constants, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

export const SYSTEM_TOOLS = [
  { bin: "docker-registry", pkg: "docker-registry" },
  { bin: "skopeo", pkg: "skopeo" },
  { bin: "htpasswd", pkg: "apache2-utils" },
  { bin: "openssl", pkg: "openssl" },
  { bin: "umoci", pkg: "umoci" },
];

/** What the tests need besides: python-dxf's alias manifests are judged by Python's json.dumps (test/unit/alias-manifest.test.ts). */
export const TEST_TOOLS = [...SYSTEM_TOOLS, { bin: "python3", pkg: "python3" }];

function onPath(bin) {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    try {
      accessSync(join(dir, bin), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

function runOrExit(command, args, options = {}) {
  const result = spawnSync(command, args, { stdio: "inherit", cwd: ROOT, timeout: 10 * 60 * 1000, ...options });
  if (result.status !== 0) {
    console.error(`${command} ${args.join(" ")} failed`);
    process.exit(1);
  }
}

/** Run quietly, its output kept in a log shown only if it fails. */
function runLogged(command, args, options = {}) {
  const dir = mkdtempSync(join(tmpdir(), "quayside-setup-"));
  const log = join(dir, "output.log");
  try {
    const result = spawnSync("sh", ["-c", `"$0" "$@" >"${log}" 2>&1`, command, ...args], { stdio: "inherit", cwd: ROOT, timeout: 10 * 60 * 1000, ...options });
    if (result.status !== 0) {
      const text = existsSync(log) ? readFileSync(log, "utf8") : "";
      console.error(`${command} ${args.join(" ")} failed:\n${text.split("\n").slice(-30).join("\n")}`);
      process.exit(1);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function timed(what, work) {
  const started = Date.now();
  process.stdout.write(`${what} ... `);
  work();
  console.log(`done (${((Date.now() - started) / 1000).toFixed(1)} s)`);
}

/** apt-get install whatever of SYSTEM_TOOLS is missing (as root), or say how to. */
export function ensureSystemTools(tools = SYSTEM_TOOLS) {
  const missing = tools.filter((t) => !onPath(t.bin));
  if (missing.length === 0) return;
  const pkgs = [...new Set(missing.map((t) => t.pkg))];
  if (process.getuid?.() !== 0) {
    console.error(`missing ${missing.map((t) => t.bin).join(", ")}: run  sudo apt-get install -y ${pkgs.join(" ")}`);
    process.exit(1);
  }
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  timed(`first run: installing the Debian packages ${pkgs.join(" ")} (apt-get, from Debian's archive)`, () => {
    runLogged("apt-get", ["update", "-q"], { env });
    runLogged("apt-get", ["install", "-y", "-q", "--no-install-recommends", ...pkgs], { env });
  });
  const still = tools.filter((t) => !onPath(t.bin));
  if (still.length > 0) {
    console.error(`still missing after apt-get: ${still.map((t) => t.bin).join(", ")}`);
    process.exit(1);
  }
}

/** The newest modification time under `path` (a file or a directory tree), 0 when absent. */
function newest(path) {
  if (!existsSync(path)) return 0;
  const info = statSync(path);
  if (!info.isDirectory()) return info.mtimeMs;
  let latest = 0;
  for (const name of readdirSync(path)) if (name !== "node_modules") latest = Math.max(latest, newest(join(path, name)));
  return latest;
}

/** What the builds read, and what they write last. */
const BUILD_INPUTS = ["src", "test", "bench", "scripts", "package-lock.json", "tsconfig.json", "tsconfig.base.json", "tsconfig.build.json"];
const BUILD_OUTPUTS = [join("dist", "cli.cjs.cache"), join("build", "scripts", "demo.js"), join("build", "scripts", "registry.js")];

/**
 * npm packages (if node_modules is missing) and both builds: dist/ (the package) and build/
 * (tests, harness, scripts), each skipped when its outputs are newer than every input.
 */
export function ensureBuilt() {
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  if (!existsSync(join(ROOT, "node_modules", "typescript"))) {
    timed("first run: installing the npm packages (npm ci)", () => runLogged(npm, ["ci", "--no-audit", "--no-fund"]));
  }
  const outputs = BUILD_OUTPUTS.map((p) => newest(join(ROOT, p)));
  const inputs = Math.max(...BUILD_INPUTS.map((p) => newest(join(ROOT, p))));
  if (outputs.every((t) => t > inputs)) return;
  const tsc = join(ROOT, "node_modules", "typescript", "bin", "tsc");
  timed("building quayside (tsc, the CLI bundle, the test harness)", () => {
    runOrExit(process.execPath, [tsc, "-p", "tsconfig.build.json"]);
    // The CLI bundles and their code caches, which bin/quayside.js loads.
    runOrExit(process.execPath, [join(ROOT, "scripts", "bundle-cli.mjs")]);
    runOrExit(process.execPath, [tsc, "-p", "tsconfig.json"]);
  });
}
