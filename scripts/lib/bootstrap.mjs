// What the demo and the test runner need before any TypeScript runs: npm packages, a build,
// and the Debian tools the real-server harness drives (docker-registry, skopeo, htpasswd, openssl, umoci).
import { spawnSync } from "node:child_process";
import { accessSync, constants, existsSync } from "node:fs";
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

/** apt-get install whatever of SYSTEM_TOOLS is missing (as root), or say how to. */
export function ensureSystemTools(tools = SYSTEM_TOOLS) {
  const missing = tools.filter((t) => !onPath(t.bin));
  if (missing.length === 0) return;
  const pkgs = [...new Set(missing.map((t) => t.pkg))];
  if (process.getuid?.() !== 0) {
    console.error(`missing ${missing.map((t) => t.bin).join(", ")}: run  sudo apt-get install -y ${pkgs.join(" ")}`);
    process.exit(1);
  }
  console.log(`installing ${pkgs.join(" ")} ...`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  runOrExit("apt-get", ["update"], { env });
  runOrExit("apt-get", ["install", "-y", "--no-install-recommends", ...pkgs], { env });
  const still = tools.filter((t) => !onPath(t.bin));
  if (still.length > 0) {
    console.error(`still missing after apt-get: ${still.map((t) => t.bin).join(", ")}`);
    process.exit(1);
  }
}

/** npm packages (if node_modules is missing) and both builds: dist/ (the package) and build/ (tests, harness, scripts). */
export function ensureBuilt() {
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  if (!existsSync(join(ROOT, "node_modules", "typescript"))) runOrExit(npm, ["ci", "--no-audit", "--no-fund"]);
  const tsc = join(ROOT, "node_modules", "typescript", "bin", "tsc");
  runOrExit(process.execPath, [tsc, "-p", "tsconfig.build.json"]);
  // The CLI bundles and their code caches, which bin/quayside.js loads.
  runOrExit(process.execPath, [join(ROOT, "scripts", "bundle-cli.mjs")]);
  runOrExit(process.execPath, [tsc, "-p", "tsconfig.json"]);
}
